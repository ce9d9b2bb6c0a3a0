/**
 * The TypeScript type a JSON Schema describes, for the draft-07 subset the protocol's schemas use
 * (written `as const`): type, properties, required, additionalProperties, items, enum, anyOf.
 * Type-only: it adds nothing at runtime, so nothing to the agent bundle. A schema and the type it
 * describes cannot drift apart: the type is derived, or checked equal to the derived one
 * (test/unit/server/schemas.test.ts).
 */

/** The value type a schema `S` accepts. */
export type FromSchema<S> = S extends { anyOf: readonly (infer U)[] }
  ? FromSchema<U>
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { type: 'string' }
      ? string
      : S extends { type: 'number' | 'integer' }
        ? number
        : S extends { type: 'boolean' }
          ? boolean
          : S extends { type: 'null' }
            ? null
            : S extends { type: 'array'; items: infer I }
              ? FromSchema<I>[]
              : S extends { type: 'object'; properties: infer P }
                ? ObjectOf<P, S extends { required: readonly (infer R)[] } ? R : never>
                : S extends { type: 'object' }
                  ? Record<string, unknown>
                  : unknown;

/** Required properties as they are, the others optional; one flat object type (readable in hovers). */
type ObjectOf<P, R> = Flat<
  { -readonly [K in keyof P & R]: FromSchema<P[K]> } & { -readonly [K in Exclude<keyof P, R>]?: FromSchema<P[K]> }
>;
type Flat<T> = { [K in keyof T]: T[K] } & {};

/** true when A and B are the same type (for compile-time checks in tests). */
export type SameType<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
