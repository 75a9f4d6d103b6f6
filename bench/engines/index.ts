// The engines the runner knows. Loading an adapter imports its native module, so the runner only
// reads this table and each child process loads the one adapter it runs.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EngineModule } from './types.js';

export interface EngineInfo {
  /** What the table calls it. */
  label: string;
  load(): Promise<EngineModule>;
  /** Why this engine cannot run here, or undefined when it can. */
  unavailable(): string | undefined;
}

const redbEntry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

export const ENGINES = {
  redb: {
    label: 'redb-audit',
    load: async () => (await import('./redb.js')).engine,
    unavailable: () => (existsSync(redbEntry) ? undefined : `${redbEntry} does not exist yet`),
  },
  'redb-none': {
    label: 'redb (no compression)',
    load: async () => (await import('./redb.js')).engineNone,
    unavailable: () => (existsSync(redbEntry) ? undefined : `${redbEntry} does not exist yet`),
  },
  'redb-lz4': {
    label: 'redb (lz4)',
    load: async () => (await import('./redb.js')).engineLz4,
    unavailable: () => (existsSync(redbEntry) ? undefined : `${redbEntry} does not exist yet`),
  },
  'redb-aes': {
    label: 'redb (zstd + AES-GCM)',
    load: async () => (await import('./redb.js')).engineAes,
    unavailable: () => (existsSync(redbEntry) ? undefined : `${redbEntry} does not exist yet`),
  },
  'redb-4k': {
    label: 'redb (4 KiB nodes)',
    load: async () => (await import('./redb.js')).engine4k,
    unavailable: () => (existsSync(redbEntry) ? undefined : `${redbEntry} does not exist yet`),
  },
  lmdb: {
    label: 'lmdb-js',
    load: async () => (await import('./lmdb.js')).engine,
    unavailable: () => undefined,
  },
  sqlite: {
    label: 'better-sqlite3',
    load: async () => (await import('./sqlite.js')).engine,
    unavailable: () => undefined,
  },
  level: {
    label: 'classic-level',
    load: async () => (await import('./level.js')).engine,
    unavailable: () => undefined,
  },
} satisfies Record<string, EngineInfo>;

export type EngineName = keyof typeof ENGINES;

/** The engine every ratio is taken against. */
export const REFERENCE_ENGINE: EngineName = 'redb';

export function isEngineName(name: string): name is EngineName {
  return Object.hasOwn(ENGINES, name);
}
