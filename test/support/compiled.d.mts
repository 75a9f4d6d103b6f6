/** Declarations of compiled.mjs (plain JavaScript, so that scripts/test.mjs can load it without tsx). */
export declare const ROOT: string;
export declare const OUT: string;
export declare function ensureCompiled(): void;
export declare function compiledPath(file: string): string;
