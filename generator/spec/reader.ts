/**
 * Structural reading of a spec: YAML with source positions, a declarative field schema, and the
 * issue list every later check appends to. Unknown fields get a did-you-mean; wrong types and
 * values name what is accepted. Pure: text in, issues and a plain value out.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { closest } from '../util/text.ts';
import type { SpecIssue } from './types.ts';

export type Schema =
  | { t: 'string'; enum?: readonly string[]; pattern?: RegExp; expect?: string }
  | { t: 'int'; min?: number; max?: number }
  | { t: 'bool' }
  | { t: 'list'; of: Schema }
  | { t: 'map'; of: Schema }
  | { t: 'object'; fields: Record<string, Schema>; required?: readonly string[] };

export type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out || '(document)';
}

export class SpecReader {
  readonly issues: SpecIssue[] = [];
  readonly value: unknown;
  private readonly lineCounter = new LineCounter();
  private readonly doc;

  constructor(text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lineCounter, uniqueKeys: true, prettyErrors: false, version: '1.2' });
    for (const e of [...this.doc.errors]) {
      const pos = this.lineCounter.linePos(e.pos[0]);
      const what = e.code === 'DUPLICATE_KEY' ? 'a key appears twice in the same mapping; keep one' : e.message.split('\n')[0];
      this.issues.push({ path: '(yaml)', message: `${what} (${e.code})`, line: pos.line, column: pos.col, severity: 'error' });
    }
    let value: unknown = null;
    if (this.doc.errors.length === 0) {
      try {
        value = this.doc.toJS({ maxAliasCount: 50 });
      } catch (e) {
        this.issues.push({ path: '(yaml)', message: `cannot be read: ${(e as Error).message}`, line: 1, column: 1, severity: 'error' });
      }
    }
    this.value = value;
  }

  /** The node at `path`, or the deepest existing ancestor. `key: true` points at the mapping key. */
  private locate(path: readonly PathPart[], key: boolean): { line: number; col: number } {
    let node: Node | null | undefined = this.doc.contents as Node | null;
    let best = node?.range?.[0] ?? 0;
    for (let i = 0; i < path.length && node; i++) {
      const part = path[i]!;
      if (isMap(node)) {
        const items: unknown[] = node.items;
        const pair = items.find(
          (p): p is { key: Node; value: unknown } => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part),
        );
        if (!pair) break;
        const keyNode = pair.key as Node;
        const last = i === path.length - 1;
        if (last && key && keyNode.range) {
          best = keyNode.range[0];
          node = null;
          break;
        }
        node = (pair.value as Node | null) ?? null;
        best = node?.range?.[0] ?? keyNode.range?.[0] ?? best;
      } else if (isSeq(node) && typeof part === 'number') {
        node = (node.items[part] as Node | undefined) ?? null;
        if (node?.range) best = node.range[0];
      } else break;
    }
    return this.lineCounter.linePos(best);
  }

  add(severity: 'error' | 'warning', path: readonly PathPart[], message: string, at: 'key' | 'value' = 'value'): void {
    const pos = this.locate(path, at === 'key');
    this.issues.push({ path: formatPath(path), message, line: pos.line, column: pos.col, severity });
  }

  error(path: readonly PathPart[], message: string, at: 'key' | 'value' = 'value'): void {
    this.add('error', path, message, at);
  }

  warn(path: readonly PathPart[], message: string, at: 'key' | 'value' = 'value'): void {
    this.add('warning', path, message, at);
  }

  hasErrors(): boolean {
    return this.issues.some((i) => i.severity === 'error');
  }

  /**
   * Checks `value` against `schema`; returns the value with wrong parts dropped (so later checks
   * see only well-typed data) and records an issue for each problem.
   */
  check(value: unknown, schema: Schema, path: PathPart[]): unknown {
    const shown = (v: unknown) =>
      typeof v === 'string'
        ? `"${v}"`
        : v === null
          ? 'null'
          : Array.isArray(v)
            ? 'a list'
            : typeof v === 'object'
              ? 'a mapping'
              : String(v);
    switch (schema.t) {
      case 'string': {
        if (typeof value === 'number' || typeof value === 'boolean') value = String(value);
        if (typeof value !== 'string') {
          this.error(path, `expected a string${schema.expect ? ` (${schema.expect})` : ''}, got ${shown(value)}`);
          return undefined;
        }
        if (schema.enum && !schema.enum.includes(value)) {
          const hint = closest(value, schema.enum);
          this.error(path, `"${value}" is not accepted; use one of ${schema.enum.join(' | ')}${hint ? ` (did you mean "${hint}"?)` : ''}`);
          return undefined;
        }
        if (schema.pattern && !schema.pattern.test(value)) {
          this.error(path, `"${value}" is not ${schema.expect ?? `of the form ${schema.pattern}`}`);
          return undefined;
        }
        return value;
      }
      case 'int': {
        if (typeof value !== 'number' || !Number.isInteger(value)) {
          this.error(path, `expected a whole number, got ${shown(value)}`);
          return undefined;
        }
        if ((schema.min !== undefined && value < schema.min) || (schema.max !== undefined && value > schema.max)) {
          this.error(path, `${value} is out of range; use ${schema.min ?? '…'}–${schema.max ?? '…'}`);
          return undefined;
        }
        return value;
      }
      case 'bool':
        if (typeof value !== 'boolean') {
          this.error(path, `expected true or false, got ${shown(value)}`);
          return undefined;
        }
        return value;
      case 'list': {
        if (!Array.isArray(value)) {
          this.error(path, `expected a list, got ${shown(value)}`);
          return undefined;
        }
        return value.map((item, i) => this.check(item, schema.of, [...path, i]));
      }
      case 'map': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          this.error(path, `expected a mapping, got ${shown(value)}`);
          return undefined;
        }
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
          const checked = this.check(v, schema.of, [...path, k]);
          if (checked !== undefined) out[k] = checked;
        }
        return out;
      }
      case 'object': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          this.error(path, `expected a mapping, got ${shown(value)}`);
          return undefined;
        }
        const out: Record<string, unknown> = {};
        const known = Object.keys(schema.fields);
        for (const [k, v] of Object.entries(value)) {
          const field = schema.fields[k];
          if (!field) {
            const hint = closest(k, known);
            this.error(
              [...path, k],
              `unknown field${hint ? `; did you mean "${hint}"?` : `; known fields here: ${known.join(', ')}`}`,
              'key',
            );
            continue;
          }
          const checked = this.check(v, field, [...path, k]);
          if (checked !== undefined) out[k] = checked;
        }
        for (const r of schema.required ?? []) {
          if (!(r in (value as object))) this.error(path.length ? path : [], `missing required field "${r}"`, 'key');
        }
        return out;
      }
    }
  }
}
