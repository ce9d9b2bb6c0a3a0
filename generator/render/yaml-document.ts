/**
 * `yaml.stringify` of a top-level block mapping, byte for byte the same, for a batch of documents
 * that share most of their sequence items: every worker's cloud-config carries the same scripts,
 * unit files and configs, and serialising those long strings dominated rendering a 1,000-host
 * fleet. Each distinct item of the listed sequences is serialised by the `yaml` package once per
 * writer and reused; everything else is serialised per document as before. Pure: a writer is a
 * cache of `stringify` results (written by `toYaml`, the same bytes faster), so output never depends
 * on what was written before.
 *
 * Why the pieces concatenate to the whole: in block style (what `stringify` emits with
 * `lineWidth: 0` and no flow collections) a mapping is its entries one after another, and a
 * sequence nested under a key is its items' text indented one step, each line alike — block
 * scalars' indentation indicators are relative to their parent, and empty lines stay empty.
 * test/unit/render-formats/yaml-document.test.ts holds this against `stringify` of the whole.
 */
import { toYaml, type YamlOptions } from '../util/yaml.ts';

/** Keys written bare by `stringify` (no quoting, no escaping): everything cloud-config uses. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** One step of `stringify`'s default indentation (the only one `toYaml` writes). */
const INDENT = '  ';

export class YamlDocumentWriter {
  /** Item text by the item's `content` string, then by its other fields. */
  private readonly items = new Map<string, Map<string, string>>();

  constructor(private readonly options: YamlOptions) {}

  /** The document as `stringify(doc, options)` writes it; items of `shared` sequences are reused. */
  write(doc: Record<string, unknown>, shared: readonly string[]): string {
    // Pieces joined once: a flat string, not a chain of concatenations to flatten when encoded.
    const parts: string[] = [];
    for (const [key, value] of Object.entries(doc)) {
      if (value === undefined) continue; // stringify leaves such pairs out
      if (shared.includes(key) && Array.isArray(value) && value.length > 0 && PLAIN_KEY.test(key)) {
        parts.push(`${key}:\n`);
        for (const item of value) parts.push(this.item(item));
      } else {
        parts.push(toYaml({ [key]: value }, this.options));
      }
    }
    return parts.join('');
  }

  private item(item: unknown): string {
    const record = item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>) : null;
    const content = record && typeof record.content === 'string' ? record.content : '';
    const rest = JSON.stringify(record ? { ...record, content: typeof record.content === 'string' ? null : record.content } : [item]);
    let byRest = this.items.get(content);
    if (!byRest) {
      byRest = new Map();
      this.items.set(content, byRest);
    }
    let text = byRest.get(rest);
    if (text === undefined) {
      text = indentLines(toYaml([item], this.options), INDENT);
      byRest.set(rest, text);
    }
    return text;
  }
}

/**
 * Every non-empty line prefixed with `indent` (empty lines inside block scalars stay empty). Lines
 * end at `\n` only: that is the one line break `stringify` writes; any other is inside a scalar.
 */
function indentLines(text: string, indent: string): string {
  return text
    .split('\n')
    .map((line) => (line ? indent + line : line))
    .join('\n');
}
