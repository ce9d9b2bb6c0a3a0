/** Types of scripts/ci-leftovers.mjs (plain ESM: .ci/run runs it with node before anything is built). */
export declare function mountPoints(table?: string): string[];
