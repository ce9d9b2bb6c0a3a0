/**
 * A tiny element builder. Text always goes in through text nodes (never innerHTML): log tails and
 * host names come from machines and must not become markup.
 */

import { formatDuration } from './view-model.ts';

export type Child = Node | string | number | null | undefined | false;

export type Attrs = Record<string, string | number | boolean | undefined | null>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'number' ? String(child) : child);
  }
  return el;
}

/** Sets a percentage width/left through the CSSOM (allowed by the page's CSP, unlike style="" markup). */
export function place(el: HTMLElement, props: Record<string, number>): HTMLElement {
  for (const [name, value] of Object.entries(props)) el.style.setProperty(name, `${value.toFixed(3)}%`);
  return el;
}

/** An elapsed time that the page's one-second ticker updates in place (`data-since`, server ms). */
export function since(at: number, now: number): HTMLElement {
  return h('span', { class: 'since', 'data-since': at }, formatDuration(now - at));
}
