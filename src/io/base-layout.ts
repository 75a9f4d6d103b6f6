/**
 * Names in a store's base directory that more than one layer needs (the manager writes them, a
 * backup copies them, a restore puts them back). The whole layout is in docs/format.md.
 */

/** The store manifest, `<baseDir>/redb.manifest.json` (see manager/manifest.ts). */
export const MANIFEST_NAME = 'redb.manifest.json';
