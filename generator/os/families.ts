/**
 * The `os.family` names, each with its profile in the table of `index.ts` (the compiler checks that
 * every name has one). The spec schema's enum and the `OsFamily` type are derived from this list.
 *
 * Runtime contract: a constant.
 */
export const OS_FAMILIES = ['ubuntu', 'debian', 'flatcar', 'fedora-coreos'] as const;
