/**
 * toYaml: `yaml.stringify(value, options)`, byte for byte, for the plain data kubeseed serialises
 * (objects, arrays, strings, safe integers, booleans, null) — several times faster, because it
 * writes text directly instead of building the `yaml` package's node tree first (docs/adr/0015).
 *
 * The fast path covers block-style output at the default indentation: plain, single- and
 * double-quoted one-line strings, and literal block scalars (`|`, `|-`, `|+`, with an indentation
 * indicator) for multi-line strings. Whether a one-line string may stay plain is asked of the
 * `yaml` package's own schema (its tags' resolution tests), so `"0644"`, `"true"` or `"1.5"` are
 * quoted exactly where `stringify` quotes them. Anything else — control characters, line folding,
 * document markers, unusual keys, non-plain objects, top-level scalars — falls back to
 * `stringify` for the whole document, so the output never differs, only the speed.
 * test/unit/util/yaml.test.ts holds it against `stringify` on generated and hostile inputs.
 * Pure; the only state is a bounded cache of schema answers.
 */
import { Document, stringify } from 'yaml';

export interface YamlOptions {
  /** YAML version whose schema decides which strings need quotes; `stringify`'s default is 1.2. */
  readonly version?: '1.1' | '1.2';
  /** 0: never fold lines; `stringify`'s default is 80. */
  readonly lineWidth?: number;
}

/** Thrown inside the emitter when a value is outside the fast subset; never escapes toYaml. */
class OutsideFastPath extends Error {}
const OUTSIDE = new OutsideFastPath('outside the fast YAML subset');

const STEP = '  ';
/** `stringify` forces double quotes on these (C0/C1 controls but tab and newline, lone surrogates). */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u{D800}-\u{DFFF}]/u;
/**
 * A one-line string that cannot be written plain: it starts with an indicator, is a lone `-`/`?`,
 * holds `: ` or ` #`, or ends with a space or colon. The YAML 1.2 rules for plain scalars.
 */
const NOT_PLAIN = /^[\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|:[ \t]|[\t ]#|[\t :]$/;
/** Text that a YAML 1.1 reader would take for a directive or document boundary. */
const DOCUMENT_MARKER = /^(%|---|\.\.\.)/m;
/** Block scalars cannot end with whitespace after their last line break. */
const TRAILING_BLANK_LINE = /\n[\t ]+$/;
/** Runs of line breaks that are followed by more text (not the trailing ones). */
const INNER_BREAKS = /(?<!\n)\n+(?!\n|$)/g;
/** Longest plain key `stringify` writes without switching to an explicit `? key`. */
const MAX_IMPLICIT_KEY = 1024;

interface ScalarTag {
  readonly default?: boolean | 'key';
  readonly tag: string;
  readonly test?: RegExp;
  readonly identify?: (value: unknown) => boolean;
}

/** How `stringify` writes a one-line string: plain, quoted, or by another tag's rule (bail out). */
type Plainness = 'plain' | 'quote' | 'other';

/** Per YAML version: the schema's tags and a cache of their verdict per string. */
interface SchemaView {
  readonly tags: readonly ScalarTag[];
  readonly verdicts: Map<string, Plainness>;
}

const STR_TAG = 'tag:yaml.org,2002:str';
const schemas = new Map<string, SchemaView>();
const CACHE_LIMIT = 100_000;

function schemaView(version: '1.1' | '1.2'): SchemaView {
  let view = schemas.get(version);
  if (!view) {
    const schema = new Document(null, { version }).schema;
    const tags = [...schema.tags, ...(schema.compat ?? [])] as readonly ScalarTag[];
    view = { tags: tags.filter((t) => t.tag !== STR_TAG), verdicts: new Map() };
    schemas.set(version, view);
  }
  return view;
}

/**
 * The same two questions `stringify` asks: does another tag claim this JS string (YAML 1.1's merge
 * key `<<` does), and would the plain text read back as something else (a number, bool, null…)?
 */
function plainness(view: SchemaView, text: string): Plainness {
  let verdict = view.verdicts.get(text);
  if (verdict === undefined) {
    verdict = view.tags.some((t) => t.identify?.(text))
      ? 'other'
      : view.tags.some((t) => t.default && t.test?.test(text))
        ? 'quote'
        : 'plain';
    if (view.verdicts.size >= CACHE_LIMIT) view.verdicts.clear();
    view.verdicts.set(text, verdict);
  }
  return verdict;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

class Emitter {
  /** Collections already written: `stringify` turns a repeated one into an anchor and aliases. */
  private readonly seen = new Set<object>();

  constructor(
    private readonly view: SchemaView,
    private readonly lineWidth: number,
  ) {}

  document(value: unknown): string {
    // Top-level scalars follow different rules (document markers, forced block indentation).
    if (value === null || typeof value !== 'object') throw OUTSIDE;
    return `${this.node(value, '')}\n`;
  }

  /** A collection or scalar whose continuation lines start at `indent`. */
  private node(value: unknown, indent: string): string {
    if (value === null) return 'null';
    switch (typeof value) {
      case 'string':
        return this.string(value, indent);
      case 'number':
        if (!Number.isSafeInteger(value) || Object.is(value, -0)) throw OUTSIDE;
        return String(value);
      case 'boolean':
        return value ? 'true' : 'false';
      case 'object':
        if (this.seen.has(value)) throw OUTSIDE;
        this.seen.add(value);
        return Array.isArray(value) ? this.sequence(value, indent) : this.mapping(value, indent);
      default:
        throw OUTSIDE;
    }
  }

  private sequence(items: readonly unknown[], indent: string): string {
    if (items.length === 0) return '[]';
    const itemIndent = indent + STEP;
    let out = '';
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === undefined) throw OUTSIDE;
      out += `${i === 0 ? '' : `\n${indent}`}- ${this.node(item, itemIndent)}`;
    }
    return out;
  }

  private mapping(value: object, indent: string): string {
    if (!isPlainObject(value)) throw OUTSIDE;
    const valueIndent = indent + STEP;
    let out = '';
    let first = true;
    for (const key of Object.keys(value)) {
      const v = value[key];
      if (v === undefined) continue; // stringify leaves such pairs out
      const k = this.key(key);
      const text = this.node(v, valueIndent);
      // A collection starts on its own line, unless it is empty and written `{}` or `[]` after the key.
      const pair = typeof v === 'object' && v !== null && text !== '{}' && text !== '[]' ? `${k}:\n${valueIndent}${text}` : `${k}: ${text}`;
      out += first ? pair : `\n${indent}${pair}`;
      first = false;
    }
    return first ? '{}' : out;
  }

  private key(key: string): string {
    if (
      key.length > MAX_IMPLICIT_KEY ||
      key.includes('\n') ||
      CONTROL.test(key) ||
      NOT_PLAIN.test(key) ||
      DOCUMENT_MARKER.test(key) ||
      plainness(this.view, key) !== 'plain' ||
      (this.lineWidth > 0 && key.length > this.lineWidth / 2)
    ) {
      throw OUTSIDE;
    }
    return key;
  }

  private string(text: string, indent: string): string {
    if (CONTROL.test(text)) throw OUTSIDE;
    if (text.includes('\n')) return this.literal(text, indent);
    if (this.lineWidth > 0 && (indent.length + text.length > this.lineWidth / 2 || /[\t ]/.test(text))) throw OUTSIDE;
    const verdict = plainness(this.view, text);
    if (verdict === 'other') throw OUTSIDE;
    if (NOT_PLAIN.test(text) || verdict === 'quote') return quoted(text);
    if (DOCUMENT_MARKER.test(text)) throw OUTSIDE;
    return text;
  }

  /** A literal block scalar: header (indentation indicator, chomping), then the lines at `indent`. */
  private literal(text: string, indent: string): string {
    if (this.lineWidth > 0 || TRAILING_BLANK_LINE.test(text)) throw OUTSIDE;
    // Chomping follows the trailing whitespace: none kept (-), one break (clip), more (+).
    let bodyEnd = text.length;
    while (bodyEnd > 0 && isBlank(text.charCodeAt(bodyEnd - 1))) bodyEnd--;
    let tail = text.slice(bodyEnd);
    const firstBreak = tail.indexOf('\n');
    const chomp = firstBreak === -1 ? '-' : bodyEnd === 0 || firstBreak !== tail.length - 1 ? '+' : '';
    let body = text.slice(0, bodyEnd);
    if (tail.endsWith('\n')) tail = tail.slice(0, -1);
    tail = tail.replace(INNER_BREAKS, `$&${indent}`);
    // Leading blanks and empty lines: a space there needs an explicit indentation indicator.
    let headEnd = 0;
    let lastHeadBreak = -1;
    let leadingSpace = false;
    for (; headEnd < body.length; headEnd++) {
      const c = body.charCodeAt(headEnd);
      if (c === 0x20) leadingSpace = true;
      else if (c === 0x0a) lastHeadBreak = headEnd;
      else break;
    }
    let head = body.slice(0, lastHeadBreak + 1);
    if (head) {
      body = body.slice(head.length);
      head = head.replace(/\n+/g, `$&${indent}`);
    }
    const header = (leadingSpace ? '2' : '') + chomp;
    return `|${header}\n${indent}${head}${body.replace(/\n+/g, `$&${indent}`)}${tail}`;
  }
}

function isBlank(code: number): boolean {
  return code === 0x0a || code === 0x09 || code === 0x20;
}

/** A one-line string in quotes: single quotes when it holds only double ones, else JSON's double quotes. */
function quoted(text: string): string {
  return text.includes('"') && !text.includes("'") ? `'${text}'` : JSON.stringify(text);
}

/**
 * The fast path alone: the text `stringify` would write, or undefined when `value` is outside the
 * subset it covers (tests use it to prove that kubeseed's own documents never fall back).
 */
export function emitYaml(value: unknown, options: YamlOptions = {}): string | undefined {
  try {
    return new Emitter(schemaView(options.version ?? '1.2'), options.lineWidth ?? 80).document(value);
  } catch (e) {
    if (e !== OUTSIDE) throw e;
    return undefined;
  }
}

export function toYaml(value: unknown, options: YamlOptions = {}): string {
  return emitYaml(value, options) ?? stringify(value, { version: options.version ?? '1.2', lineWidth: options.lineWidth ?? 80 });
}
