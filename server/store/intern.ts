/**
 * Equal short strings of stored records held once (issue 19). A fleet's records repeat the same
 * words many times over — every step record carries its host name, kind, origin and state, host
 * records their role, coordinator-made steps the ids of the steps they follow — and each record's
 * copy (structuredClone on commit, JSON.parse on replay) is a separate string: ~150 bytes per step
 * record at 5,000 hosts. The view passes each value it stores through `internValues`, so a record
 * holds the same string as every other record with that text, and empty objects and arrays (a new
 * step's `results`) are one shared frozen value. Stored values are deep-frozen, so sharing is not
 * observable except in the heap.
 *
 * The table is bounded: long text (files, log tails) is not interned, and of the short strings the
 * table keeps two generations of at most `maxEntries` each — a string seen in neither is added to
 * the young one, and a full young generation becomes the old one. Text that stops appearing in
 * commits (timestamps, a removed host's step ids) ages out instead of being held forever; text still
 * in use is found in the old generation and carried over, so the record just written shares it.
 */

/** Strings up to this length are interned: ids, host names, kinds, states, timestamps. */
export const INTERN_MAX_LENGTH = 96;
/** Entries per generation: a 10,000-host fleet's distinct short strings (~40,000) fit in one. */
export const INTERN_GENERATION_ENTRIES = 1 << 17;

const EMPTY_OBJECT: Readonly<Record<string, never>> = Object.freeze({});
const EMPTY_ARRAY: readonly never[] = Object.freeze([]);

export class StringTable {
  private young = new Map<string, string>();
  private old = new Map<string, string>();

  constructor(private readonly maxEntries = INTERN_GENERATION_ENTRIES) {}

  /** The held string equal to `text` (held from now on if none was), or `text` itself when it is long. */
  intern(text: string): string {
    if (text.length > INTERN_MAX_LENGTH) return text;
    const young = this.young.get(text);
    if (young !== undefined) return young;
    const held = this.old.get(text) ?? text;
    if (this.young.size >= this.maxEntries) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(held, held);
    return held;
  }

  /** Strings held (both generations; one may repeat the other's). */
  size(): number {
    return this.young.size + this.old.size;
  }
}

/**
 * `value` (a JSON value the caller owns and no one else sees: a fresh clone or parse) with its short
 * strings interned in place and its empty plain objects and arrays replaced by shared frozen ones;
 * returns the value to store (the shared empty one when `value` itself is empty). Frozen values and
 * objects that are not plain (Buffer, Date) are left as they are.
 */
export function internValues(value: unknown, table: StringTable): unknown {
  if (typeof value === 'string') return table.intern(value);
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    if (value.length === 0) return EMPTY_ARRAY;
    for (let i = 0; i < value.length; i++) value[i] = internValues(value[i], table);
    return value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 0) return EMPTY_OBJECT;
  for (const key of keys) {
    // An own `__proto__` (JSON.parse makes one) is left alone: assigning it would set the prototype.
    if (key === '__proto__') continue;
    const child = object[key];
    // Always assigned for a string: `!==` compares text, not which copy is held.
    if (typeof child === 'string') object[key] = table.intern(child);
    else if (child !== null && typeof child === 'object') {
      const interned = internValues(child, table);
      if (interned !== child) object[key] = interned;
    }
  }
  return object;
}
