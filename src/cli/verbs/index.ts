/** Every verb of the CLI, in the order `redb-audit --help` lists them. */
import type { Command } from 'commander';
import { register as init } from './init.js';
import { register as verify } from './verify.js';
import { register as repair } from './repair.js';
import { register as backup } from './backup.js';
import { register as restore } from './restore.js';
import { register as listBackups } from './list-backups.js';
import { register as cleanupBackups } from './cleanup-backups.js';
import { register as compact } from './compact.js';
import { register as rotateKey } from './rotate-key.js';
import { register as stats } from './stats.js';
import { register as health } from './health.js';
import { register as forward } from './forward.js';
import { register as ingest } from './ingest.js';
import { register as query } from './query.js';
import { register as exportVerb } from './export.js';
import { register as purgeExpired } from './purge-expired.js';
import { register as serve } from './serve.js';
import { register as demo } from './demo.js';
import { register as verifyExport } from './verify-export.js';
import { register as eraseSubject } from './erase-subject.js';
import { register as bench } from './bench.js';

export const VERBS: ((program: Command) => void)[] = [init, ingest, query, exportVerb, verify, verifyExport, repair, backup, restore, listBackups, cleanupBackups, compact, rotateKey, purgeExpired, eraseSubject, stats, health, serve, bench, demo, forward];
