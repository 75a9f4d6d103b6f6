/**
 * verifyTenant's algorithm: recompute every leaf hash from the stored events, rebuild the tree from
 * the leaves, and compare with what the log stores (leaf and interior tiles, head), with every
 * stored checkpoint and with a checkpoint held outside the store. Each finding names the event or
 * leaf it concerns.
 *
 * What each finding means: `edited` an event's bytes no longer hash to its leaf; `reordered` an
 * event's bytes hash to another leaf (records were swapped or moved); `deleted` a leaf's event is
 * gone and retention did not purge it; `inserted` an event has no leaf (or not the leaf that names
 * it); `tree` the stored tiles or head disagree with the leaves; `forked` a checkpoint's root is not
 * the root the events give at its size; `truncated` a checkpoint covers more leaves than the log
 * has; `unreadable` the engine refused a read (checksum failure). A leaf purged by retention keeps
 * its stored hash, so it is counted as purged, not deleted.
 *
 * Invariant: read-only; works on one consistent snapshot (the caller's reader and source).
 */
import { RedbError } from '../errors.js';
import { parseCheckpoint } from './checkpoint-note.js';
import { TILE_HEIGHT, TILE_WIDTH } from './log-keys.js';
import { Frontier, HASH_SIZE, leafHash } from './merkle.js';
import { openNote, type NoteVerifier } from './signed-note.js';
import type { TileLog } from './tile-log.js';

/** Read access to the stored events of one tenant, on the same snapshot as the log. */
export interface StoredEvents {
  /** The stored (canonical) bytes of an event, or undefined when there is none. */
  bytesOf(eventId: string): Uint8Array | undefined;
  /** Every stored event id of the tenant. */
  ids(): Iterable<string>;
}

/** One finding of verifyTenant. */
export interface IntegrityIssue {
  kind: 'edited' | 'reordered' | 'deleted' | 'inserted' | 'tree' | 'forked' | 'truncated' | 'unreadable';
  leafIndex?: number;
  eventId?: string;
  message: string;
}

/** What verifyTenant found for one tenant. */
export interface TenantVerifyReport {
  tenantId: string;
  ok: boolean;
  /** Leaves in the log. */
  size: number;
  /** Leaves whose event was read and rehashed. */
  checkedEvents: number;
  /** Leaves whose event retention purged (their stored hash is used). */
  purgedLeaves: number;
  /** Stored checkpoints checked. */
  checkpoints: number;
  /** The root the events give at the log's size (base64). */
  rootHash: string;
  issues: IntegrityIssue[];
}

/** Most findings of one kind listed individually; the rest are counted in one summary finding. */
const MAX_LISTED = 1000;

export function verifyLog(log: TileLog, events: StoredEvents, verifier: NoteVerifier, trustedCheckpoint?: string): TenantVerifyReport {
  const tenantId = log.tenantId;
  const issues: IntegrityIssue[] = [];
  const counts = new Map<string, number>();
  const add = (i: IntegrityIssue): void => {
    const c = (counts.get(i.kind) ?? 0) + 1;
    counts.set(i.kind, c);
    if (c <= MAX_LISTED) issues.push(i);
  };
  const report: TenantVerifyReport = { tenantId, ok: false, size: 0, checkedEvents: 0, purgedLeaves: 0, checkpoints: 0, rootHash: '', issues };
  const guard = <T>(what: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof RedbError)) throw err;
      add({ kind: err.code === 'REDB_CORRUPTION' ? 'unreadable' : 'tree', message: `${what}: ${err.message}` });
      return undefined;
    }
  };

  const head = guard('reading the log head', () => log.head());
  const size = head?.size ?? 0;
  report.size = size;

  // Checkpoints to hold the rebuilt tree against: every stored one, and the trusted one.
  const targets = new Map<number, { root: Buffer; what: string }[]>();
  const wantRoot = (note: string, what: string): void => {
    const body = openNote(note, verifier);
    const cp = body === undefined ? undefined : parseCheckpoint(body);
    if (cp === undefined) {
      add({ kind: 'forked', message: `${what} is not a checkpoint validly signed by ${verifier.name}: it was altered or signed by another key` });
      return;
    }
    if (cp.size > size) {
      add({ kind: 'truncated', message: `${what} covers ${cp.size} leaves but the log holds ${size}: ${cp.size - size} leaves were cut off` });
      return;
    }
    const list = targets.get(cp.size) ?? [];
    list.push({ root: cp.rootHash, what });
    targets.set(cp.size, list);
  };
  const stored = guard('reading the stored checkpoints', () => log.checkpoints()) ?? [];
  stored.forEach((note, i) => wantRoot(note, `stored checkpoint #${i}`));
  report.checkpoints = stored.length;
  if (trustedCheckpoint !== undefined) wantRoot(trustedCheckpoint, 'the trusted checkpoint');

  const purged = guard('reading the purge markers', () => log.purgedLeaves()) ?? new Set<number>();
  const fromEvents = new Frontier(0, []);
  const fromStored = new Frontier(0, []);
  // Hashes are visited in order, so only the current tile of each level is kept.
  const current = new Map<number, { index: number; tile: Buffer | undefined }>();
  const storedHash = (tileLevel: number, index: number): Buffer | undefined => {
    const tileIndex = Math.floor(index / TILE_WIDTH);
    let c = current.get(tileLevel);
    if (c === undefined || c.index !== tileIndex) {
      c = { index: tileIndex, tile: guard(`reading tile ${tileLevel}/${tileIndex}`, () => log.tile(tileLevel, tileIndex)) };
      current.set(tileLevel, c);
    }
    const off = (index % TILE_WIDTH) * HASH_SIZE;
    return c.tile === undefined || c.tile.length < off + HASH_SIZE ? undefined : c.tile.subarray(off, off + HASH_SIZE);
  };
  let treeIssues = 0;
  const checkInterior = (level: number, index: number, hash: Buffer): void => {
    if (level === 0 || level % TILE_HEIGHT !== 0) return;
    const s = storedHash(level / TILE_HEIGHT, index);
    if ((s === undefined || !s.equals(hash)) && treeIssues++ < 10) {
      add({ kind: 'tree', message: `stored node ${level}/${index} does not match the hash of the stored leaves under it` });
    }
  };

  const mismatched: { index: number; id: string; hash: Buffer }[] = [];
  let ids: string[] = [];
  for (let i = 0; i < size; i++) {
    if (i % TILE_WIDTH === 0) ids = guard(`reading the event ids of leaves from ${i}`, () => log.idsOfTile(i / TILE_WIDTH)) ?? [];
    const id = ids[i % TILE_WIDTH];
    const storedLeaf = storedHash(0, i);
    if (storedLeaf === undefined) {
      add({ kind: 'tree', leafIndex: i, message: `the stored hash of leaf ${i} is missing` });
    }
    let h: Buffer | undefined;
    if (id === undefined) {
      add({ kind: 'tree', leafIndex: i, message: `the log does not record which event leaf ${i} is` });
    } else if (purged.has(i)) {
      report.purgedLeaves++;
    } else {
      const bytes = guard(`reading event ${id}`, () => events.bytesOf(id));
      if (bytes === undefined) {
        add({ kind: 'deleted', leafIndex: i, eventId: id, message: `event ${id} (leaf ${i}) is missing and was not purged by retention: it was deleted` });
      } else {
        report.checkedEvents++;
        h = leafHash(bytes);
        if (storedLeaf !== undefined && !h.equals(storedLeaf)) mismatched.push({ index: i, id, hash: h });
      }
    }
    const leafForStored = storedLeaf ?? h ?? Buffer.alloc(HASH_SIZE);
    fromStored.push(leafForStored, checkInterior);
    fromEvents.push(h ?? leafForStored);
    const want = targets.get(i + 1);
    if (want !== undefined) {
      const root = fromEvents.root();
      for (const t of want) {
        if (!root.equals(t.root)) add({ kind: 'forked', message: `${t.what} (size ${i + 1}) signs a root the events do not give: the history was rewritten` });
      }
    }
  }
  for (const t of targets.get(0) ?? []) {
    if (!fromEvents.root().equals(t.root) && size === 0) add({ kind: 'forked', message: `${t.what} (size 0) has a non-empty root` });
  }

  if (mismatched.length > 0) {
    // Which leaf does each changed event's hash belong to? One pass over the stored leaf hashes.
    const where = new Map<string, number>();
    const wanted = new Set(mismatched.map((m) => m.hash.toString('base64')));
    for (let i = 0; i < size; i++) {
      const s = storedHash(0, i);
      if (s !== undefined && wanted.has(s.toString('base64'))) where.set(s.toString('base64'), i);
    }
    for (const m of mismatched) {
      const at = where.get(m.hash.toString('base64'));
      if (at !== undefined) add({ kind: 'reordered', leafIndex: m.index, eventId: m.id, message: `the record read for event ${m.id} (leaf ${m.index}) holds the event of leaf ${at}: records were swapped or moved` });
      else add({ kind: 'edited', leafIndex: m.index, eventId: m.id, message: `event ${m.id} (leaf ${m.index}) no longer matches its leaf hash: it was edited` });
    }
  }

  if (head !== undefined) {
    const hs = head.hashes;
    if (hs.length !== fromStored.hashes.length || hs.some((x, i) => !x.equals(fromStored.hashes[i]!))) {
      add({ kind: 'tree', message: 'the log head does not match the stored leaves: the log was altered outside the store' });
    }
  }

  // The runs that map ids to leaves: lookups rely on their being ordered and apart, each within
  // the log and matching the id tiles at both ends, and on the head naming the last one.
  guard('reading the runs', () => {
    const { runs, headRunId } = log.runs();
    let prev: Buffer | undefined;
    for (const r of runs) {
      const name = `the run from leaf ${r.first} (${r.count} leaves)`;
      if (r.first + r.count > size) add({ kind: 'tree', message: `${name} reaches past the log's ${size} leaves` });
      else if (!r.firstId.equals(log.storedIdAt(r.first) ?? Buffer.alloc(0)) || !r.lastId.equals(log.storedIdAt(r.first + r.count - 1) ?? Buffer.alloc(0)) || Buffer.compare(r.firstId, r.lastId) > 0) {
        add({ kind: 'tree', message: `${name} does not match the event ids stored for its first and last leaves` });
      }
      if (prev !== undefined && Buffer.compare(r.firstId, prev) <= 0) add({ kind: 'tree', message: `${name} overlaps the ids of the run before it` });
      prev = r.lastId;
    }
    const last = runs[runs.length - 1];
    if (last !== undefined ? headRunId === undefined || !headRunId.equals(last.firstId) : headRunId !== undefined) {
      add({ kind: 'tree', message: 'the log head does not name the last run: the log was altered outside the store' });
    }
  });

  // Events the log does not account for.
  const seen = guard('listing the stored events', () => [...events.ids()]) ?? [];
  const idsTiles = new Map<number, string[]>();
  for (const id of seen) {
    const at = guard(`reading the leaf of event ${id}`, () => log.leafIndexOf(id));
    let tile: string[] | undefined;
    if (at !== undefined && at < size) {
      const t = Math.floor(at / TILE_WIDTH);
      tile = idsTiles.get(t);
      if (tile === undefined) {
        tile = guard(`reading the event ids of tile ${t}`, () => log.idsOfTile(t)) ?? [];
        if (idsTiles.size > 64) idsTiles.clear();
        idsTiles.set(t, tile);
      }
    }
    if (at === undefined || at >= size || tile?.[at % TILE_WIDTH] !== id) {
      add({ kind: 'inserted', eventId: id, message: `event ${id} is stored but ${at === undefined ? 'has no leaf in the log' : `its leaf ${at} is ${at >= size ? 'beyond the log' : 'another event'}`}: it was inserted outside the store` });
    }
  }

  for (const [kind, c] of counts) {
    if (c > MAX_LISTED) issues.push({ kind: kind as IntegrityIssue['kind'], message: `${c - MAX_LISTED} more ${kind} findings not listed` });
  }
  report.rootHash = fromEvents.root().toString('base64');
  report.ok = issues.length === 0;
  return report;
}
