/** Types of bin/cli-bundle.mjs (plain ESM, so that bin/kubeseed.mjs can load it before tsx). */
export declare const CLI_BUNDLE_DIR: string;
export declare const CLI_MANIFEST: string;
export declare const CLI_MANIFEST_VERSION: number;
export declare function freshCliBundle(root: string): { entry: string | null; reason: string | null };
