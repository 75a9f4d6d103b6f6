/**
 * An incremental backup needs its base, which may need its own: the chain. Each link names its base
 * by a path relative to itself (so sibling backup directories can be moved together), then by the
 * absolute path it had, and pins it by the BLAKE3 digest of the base's manifest file, so a base that
 * was replaced or changed is refused rather than silently mixed in.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MAX_CHAIN_DEPTH } from './backup-index.js';
import { readBackupManifest, type LoadedManifest } from './backup-manifest.js';

/** The backup in `dir` and its bases, newest first; `issues` says why the chain stops early, if it does. */
export interface BackupChain {
  links: LoadedManifest[];
  issues: string[];
}

function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

export function loadBackupChain(dir: string): BackupChain {
  const first = readBackupManifest(dir);
  if (typeof first === 'string') return { links: [], issues: [first] };
  const links = [first];
  const seen = new Set([realDir(first.dir)]);
  for (let cur = first; cur.manifest.base; ) {
    const base = cur.manifest.base;
    if (links.length > MAX_CHAIN_DEPTH) return { links, issues: [`the chain of ${dir} is longer than ${MAX_CHAIN_DEPTH} backups`] };
    const tried: string[] = [];
    let found: LoadedManifest | null = null;
    for (const candidate of new Set([path.resolve(cur.dir, base.path), base.absolutePath])) {
      const r = readBackupManifest(candidate);
      if (typeof r === 'string') tried.push(r);
      else if (r.digest !== base.manifestBlake3) tried.push(`${candidate} is not the backup ${cur.dir} was taken on (its manifest changed or it is another backup)`);
      else {
        found = r;
        break;
      }
    }
    if (!found) return { links, issues: [`the base backup of ${cur.dir} is missing or changed: ${tried.join('; ')}`] };
    if (seen.has(realDir(found.dir))) return { links, issues: [`the backup chain of ${dir} loops back to ${found.dir}`] };
    if (found.manifest.shardCount !== first.manifest.shardCount) {
      return { links, issues: [`base backup ${found.dir} has ${found.manifest.shardCount} shards, ${dir} has ${first.manifest.shardCount}`] };
    }
    seen.add(realDir(found.dir));
    links.push(found);
    cur = found;
  }
  return { links, issues: [] };
}
