/**
 * One tenant's append-only Merkle log, stored as tiles (docs/integrity.md, "Stored form"): the log
 * head (size, right edge, and the key of the last run), level-L tiles holding up to 256 hashes of
 * tree level 8L (level 0: the leaf hashes), the event id of every leaf (also in tiles of 256), and
 * the way from an event id to its leaf: runs of leaves whose ids ascend (one entry per run, binary
 * searched through the id tiles), and a leaf entry for each id that joined no run.
 *
 * An append reads the head and the last tile of each level it touches, computes one leaf hash and,
 * amortised, one node hash per event, and writes each touched tile once per call: O(log n) reads
 * and writes per commit, not per event. A node of any complete subtree is read from one tile and
 * hashed up at most 7 levels, so a proof costs O(log n) tile reads.
 *
 * Invariants: leaf i is the i-th event appended for the tenant; a stored hash never changes once
 * written (only the last tile of each level grows); the head's size equals the number of leaf
 * hashes in the level-0 tiles; runs never overlap in id order (each starts above every earlier
 * run's last id), and a leaf entry wins over a run. Reads go through small per-instance tile
 * caches, so use one instance per transaction or snapshot, never across commits.
 */
import { CorruptionError, ValidationError } from '../errors.js';
import {
  checkpointKey,
  headKey,
  idsKey,
  Kind,
  kindRange,
  leafKey,
  LOG_TABLE,
  purgedKey,
  readU64,
  runKey,
  runsUpTo,
  STRIP_WIDTH,
  stripsOf,
  TILE_HEIGHT,
  TILE_WIDTH,
  tenantPrefix,
  tileKey,
  u64,
  writeU64,
} from './log-keys.js';
import { EMPTY_ROOT, Frontier, HASH_SIZE, isPowerOfTwo, leafHash, nodeHash, popCount, splitPoint } from './merkle.js';

/** Read access to the log table (a snapshot's Table or a transaction's TxTable). */
export interface LogReader {
  get(key: Uint8Array): Uint8Array | undefined;
  range(options: { gte?: Uint8Array; lt?: Uint8Array; reverse?: boolean; limit?: number }): Iterable<{ key: Uint8Array; value: Uint8Array }>;
}

/** Write access to the log table, inside the transaction that inserts the events. */
export interface LogWriter extends LogReader {
  put(key: Uint8Array, value: Uint8Array): void;
}

/** One event to append: its id and its canonical bytes. */
export interface LeafInput {
  id: string;
  bytes: Uint8Array;
}

function corrupt(what: string): CorruptionError {
  return new CorruptionError(LOG_TABLE, 0, what);
}

/** A tenant's log over a table. */
export class TileLog {
  private readonly tiles = new Map<string, Buffer>();
  private readonly idTiles = new Map<number, Buffer[]>();
  /** The run leafIndexOf found last, and the leaf it returned last from a run. */
  private runFound: Run | undefined;
  private lastHit = -1;
  private headCache: Head | undefined;

  constructor(
    private readonly kv: LogReader,
    readonly tenantId: string,
  ) {}

  /** The current size and right edge. */
  head(): Frontier {
    return this.loadHead().frontier.clone();
  }

  private loadHead(): Head {
    if (this.headCache === undefined) this.headCache = decodeHeadValue(this.kv.get(headKey(this.tenantId)), this.tenantId);
    return this.headCache;
  }

  size(): number {
    return this.head().size;
  }

  /** The tree hash of the current size. */
  currentRoot(): Buffer {
    return this.head().root();
  }

  /**
   * Appends leaves in order, in the caller's transaction: `kv` must be the LogWriter this log was
   * built on. Returns the first leaf index assigned.
   */
  append(events: readonly LeafInput[]): number {
    const kv = this.kv as LogWriter;
    const frontier = this.head();
    const first = frontier.size;
    // The open strip of each level: its position, as loaded, plus the hashes appended to it here.
    const open = new Map<number, { tileIndex: number; strip: number; parts: Buffer[]; count: number; dirty: boolean }>();
    const flushStrip = (lvl: number): void => {
      const t = open.get(lvl);
      if (t !== undefined && t.dirty) kv.put(tileKey(this.tenantId, lvl, t.tileIndex, t.strip), Buffer.concat(t.parts));
    };
    const addHash = (tileLevel: number, index: number, hash: Buffer): void => {
      const tileIndex = Math.floor(index / TILE_WIDTH);
      const pos = index % TILE_WIDTH;
      const strip = Math.floor(pos / STRIP_WIDTH);
      let t = open.get(tileLevel);
      if (t === undefined || t.tileIndex !== tileIndex || t.strip !== strip) {
        if (t !== undefined) flushStrip(tileLevel);
        const existing = pos % STRIP_WIDTH === 0 ? undefined : this.kv.get(tileKey(this.tenantId, tileLevel, tileIndex, strip));
        const have = existing === undefined ? Buffer.alloc(0) : Buffer.from(existing);
        t = { tileIndex, strip, parts: [have], count: have.length / HASH_SIZE, dirty: false };
        open.set(tileLevel, t);
      }
      if (t.count !== pos % STRIP_WIDTH) {
        throw corrupt(`tenant ${this.tenantId}: strip ${t.strip} of tile ${tileLevel}/${tileIndex} holds ${t.count} hashes but the head expects ${pos % STRIP_WIDTH}; run verifyTenant`);
      }
      t.parts.push(hash);
      t.count++;
      t.dirty = true;
    };
    const onNode = (level: number, index: number, hash: Buffer): void => {
      if (level % TILE_HEIGHT === 0) addHash(level / TILE_HEIGHT, index, hash);
    };
    // The open id strip is built in one buffer, fresh per strip (the put may keep a view of it).
    let idStrip: { tileIndex: number; strip: number; buf: Buffer; used: number; dirty: boolean } | undefined;
    const flushIds = (): void => {
      if (idStrip !== undefined && idStrip.dirty) kv.put(idsKey(this.tenantId, idStrip.tileIndex, idStrip.strip), idStrip.buf.subarray(0, idStrip.used));
    };
    // An id above every earlier id of the log joins a run (the last one, when it ends just before
    // its leaf); any other id gets its own leaf entry. Generated ULIDs only ever rise, so a tenant
    // fed by this process keeps one run instead of one entry per event. A log that has leaves but
    // no run predates runs: its ids all have leaf entries, and so will every new one.
    let run = first === 0 ? undefined : this.lastRun();
    const runsAllowed = first === 0 || run !== undefined;
    let runDirty = false;
    const flushRun = (): void => {
      if (run !== undefined && runDirty) kv.put(runKey(this.tenantId, run.firstId), encodeRun(run));
      runDirty = false;
    };
    let lastBuf: Buffer = run?.lastId ?? EMPTY;
    let lastAt = 0;
    let lastLen = lastBuf.length;
    for (const ev of events) {
      const leafIndex = frontier.size;
      frontier.push(leafHash(ev.bytes), onNode);
      const tileIndex = Math.floor(leafIndex / TILE_WIDTH);
      const strip = Math.floor((leafIndex % TILE_WIDTH) / STRIP_WIDTH);
      if (idStrip === undefined || idStrip.tileIndex !== tileIndex || idStrip.strip !== strip) {
        flushIds();
        const existing = leafIndex % STRIP_WIDTH === 0 ? undefined : this.kv.get(idsKey(this.tenantId, tileIndex, strip));
        const have = existing?.length ?? 0;
        idStrip = { tileIndex, strip, buf: Buffer.allocUnsafe(have + (STRIP_WIDTH - (leafIndex % STRIP_WIDTH)) * 48), used: have, dirty: false };
        if (existing !== undefined) idStrip.buf.set(existing, 0);
      }
      // The id goes straight into the strip (u16 length || id, UTF-8: at most 3 bytes per UTF-16
      // unit); the run or leaf key reuses those bytes.
      const room = 2 + 3 * ev.id.length;
      if (idStrip.buf.length - idStrip.used < room) {
        const grown = Buffer.allocUnsafe(2 * idStrip.buf.length + room);
        idStrip.buf.copy(grown, 0, 0, idStrip.used);
        idStrip.buf = grown;
      }
      const at = idStrip.used;
      const idLen = writeId(idStrip.buf, at + 2, ev.id);
      if (idLen === 0 || idLen > 0xffff) throw new ValidationError(`event id must be 1 to 65,535 UTF-8 bytes, got ${idLen === 0 ? 0 : Buffer.byteLength(ev.id, 'utf8')}`);
      idStrip.buf[at] = idLen >>> 8;
      idStrip.buf[at + 1] = idLen & 0xff;
      idStrip.used = at + 2 + idLen;
      idStrip.dirty = true;
      // The run's last id is kept as a place in a strip buffer (never overwritten once written) and
      // made a view only when the run is stored: one object per run, not one per event.
      if (runsAllowed && (run === undefined || compareAt(idStrip.buf, at + 2, idLen, lastBuf, lastAt, lastLen) > 0)) {
        if (run !== undefined && run.first + run.count === leafIndex) {
          run.count++;
        } else {
          if (run !== undefined) run.lastId = lastBuf.subarray(lastAt, lastAt + lastLen);
          flushRun();
          const id = idStrip.buf.subarray(at + 2, at + 2 + idLen);
          run = { firstId: id, first: leafIndex, count: 1, lastId: id };
        }
        lastBuf = idStrip.buf;
        lastAt = at + 2;
        lastLen = idLen;
        runDirty = true;
      } else {
        kv.put(leafKey(this.tenantId, idStrip.buf.subarray(at + 2, at + 2 + idLen)), u64(leafIndex));
      }
    }
    if (run !== undefined) run.lastId = lastBuf.subarray(lastAt, lastAt + lastLen);
    for (const lvl of open.keys()) flushStrip(lvl);
    flushIds();
    flushRun();
    kv.put(headKey(this.tenantId), encodeHead(frontier, run?.firstId));
    this.headCache = { frontier: frontier.clone(), lastRunId: run?.firstId };
    this.tiles.clear();
    this.idTiles.clear();
    this.runFound = undefined;
    return first;
  }

  /** The run with the highest ids (the last one created), which the head names; a get, not a scan. */
  private lastRun(): Run | undefined {
    const firstId = this.loadHead().lastRunId;
    if (firstId === undefined) return undefined;
    const key = runKey(this.tenantId, firstId);
    const v = this.kv.get(key);
    if (v === undefined) throw corrupt(`tenant ${this.tenantId}: the log head names a run that is not stored; run verifyTenant`);
    return this.decodeRun(key, v);
  }

  private decodeRun(key: Uint8Array, value: Uint8Array): Run {
    const first = value.length > 16 ? readU64(value, 0) : undefined;
    const count = value.length > 16 ? readU64(value, 8) : undefined;
    const prefixLen = tenantPrefix(this.tenantId).length + 1;
    if (first === undefined || count === undefined || count === 0 || key.length <= prefixLen) {
      throw corrupt(`tenant ${this.tenantId}: a run entry of ${value.length} bytes does not hold a first leaf, a count and a last id; run verifyTenant`);
    }
    return { firstId: Buffer.from(key.subarray(prefixLen)), first, count, lastId: Buffer.from(value.subarray(16)) };
  }

  private readTile(tileLevel: number, index: number): Buffer | undefined {
    const k = `${tileLevel}/${index}`;
    let t = this.tiles.get(k);
    if (t === undefined) {
      const parts: Uint8Array[] = [];
      for (const { key, value } of this.kv.range(stripsOf(tileKey(this.tenantId, tileLevel, index, 0)))) {
        const strip = key[key.length - 1]!;
        // Strips are contiguous from 0 and every one but the last is full.
        if (strip !== parts.length || value.length === 0 || value.length % HASH_SIZE !== 0 || value.length > STRIP_WIDTH * HASH_SIZE || (parts.length > 0 && parts[parts.length - 1]!.length !== STRIP_WIDTH * HASH_SIZE)) {
          throw corrupt(`tenant ${this.tenantId}: strip ${strip} of tile ${tileLevel}/${index} is out of place or ${value.length} bytes long; run verifyTenant`);
        }
        parts.push(value);
      }
      if (parts.length === 0) return undefined;
      t = Buffer.concat(parts);
      this.tiles.set(k, t);
    }
    return t;
  }

  /** The stored hashes of one tile (for the verifier), or undefined when absent. */
  tile(tileLevel: number, index: number): Buffer | undefined {
    return this.readTile(tileLevel, index);
  }

  /**
   * The hash of the complete subtree of height `level` number `index` (leaves
   * [index * 2^level, (index + 1) * 2^level)), which must lie within the log.
   */
  nodeAt(level: number, index: number): Buffer {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const k = level - tileLevel * TILE_HEIGHT;
    const width = 2 ** k;
    const first = index * width;
    const tileIndex = Math.floor(first / TILE_WIDTH);
    const off = first % TILE_WIDTH;
    const tile = this.readTile(tileLevel, tileIndex);
    if (tile === undefined || tile.length < (off + width) * HASH_SIZE) {
      throw corrupt(`tenant ${this.tenantId}: tile ${tileLevel}/${tileIndex} lacks the hashes of node ${level}/${index}; run verifyTenant`);
    }
    let row: Buffer[] = [];
    for (let i = 0; i < width; i++) row.push(tile.subarray((off + i) * HASH_SIZE, (off + i + 1) * HASH_SIZE));
    while (row.length > 1) {
      const next: Buffer[] = [];
      for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i]!, row[i + 1]!));
      row = next;
    }
    return row[0]!;
  }

  /** The stored hash of leaf `index`. */
  leafHashAt(index: number): Buffer {
    return this.nodeAt(0, index);
  }

  /** MTH of leaves [a, b), a range produced by the RFC 9162 recursion (b > a). */
  subtreeHash(a: number, b: number): Buffer {
    const n = b - a;
    if (isPowerOfTwo(n) && a % n === 0) return this.nodeAt(Math.log2(n), a / n);
    const k = splitPoint(n);
    return nodeHash(this.subtreeHash(a, a + k), this.subtreeHash(a + k, b));
  }

  /** The tree hash at an earlier (or the current) size. */
  rootAt(size: number): Buffer {
    this.checkSize(size, 'tree size');
    if (size === 0) return EMPTY_ROOT;
    if (size === this.size()) return this.currentRoot();
    return this.subtreeHash(0, size);
  }

  /** RFC 9162 inclusion path of leaf `index` in the tree of `size` leaves, nearest sibling first. */
  inclusionPath(index: number, size: number): Buffer[] {
    this.checkSize(size, 'tree size');
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new ValidationError(`leaf ${index} is not in a tree of ${size} leaves; ask for a tree size above the leaf index`);
    }
    const out: Buffer[] = [];
    const walk = (m: number, a: number, b: number): void => {
      const n = b - a;
      if (n === 1) return;
      const k = splitPoint(n);
      if (m - a < k) {
        walk(m, a, a + k);
        out.push(this.subtreeHash(a + k, b));
      } else {
        walk(m, a + k, b);
        out.push(this.subtreeHash(a, a + k));
      }
    };
    walk(index, 0, size);
    return out;
  }

  /** RFC 9162 consistency proof from `oldSize` to `newSize`. */
  consistencyProof(oldSize: number, newSize: number): Buffer[] {
    this.checkSize(newSize, 'new size');
    if (!Number.isSafeInteger(oldSize) || oldSize < 0 || oldSize > newSize) {
      throw new ValidationError(`old size ${oldSize} must be an integer from 0 to the new size ${newSize}`);
    }
    if (oldSize === 0 || oldSize === newSize) return [];
    const out: Buffer[] = [];
    const sub = (m: number, a: number, b: number, complete: boolean): void => {
      const n = b - a;
      if (m === n) {
        if (!complete) out.push(this.subtreeHash(a, b));
        return;
      }
      const k = splitPoint(n);
      if (m <= k) {
        sub(m, a, a + k, complete);
        out.push(this.subtreeHash(a + k, b));
      } else {
        sub(m - k, a + k, b, false);
        out.push(this.subtreeHash(a, a + k));
      }
    };
    sub(oldSize, 0, newSize, true);
    return out;
  }

  private checkSize(size: number, what: string): void {
    const current = this.size();
    if (!Number.isSafeInteger(size) || size < 0 || size > current) {
      throw new ValidationError(`${what} ${size} must be an integer from 0 to the log's size ${current} (tenant ${this.tenantId})`);
    }
  }

  /** The leaf index of an event, or undefined when the event is not in the log. */
  leafIndexOf(eventId: string): number | undefined {
    const id = Buffer.from(eventId, 'utf8');
    // A leaf entry wins over a run: an id that returns after its event was purged gets one, so
    // the newest leaf of the id is found, as the old leaf's run still spans the id.
    const v = this.kv.get(leafKey(this.tenantId, id));
    if (v !== undefined) {
      if (v.length !== 8) throw corrupt(`tenant ${this.tenantId}: leaf index of event ${eventId} is ${v.length} bytes, not 8`);
      return readU64(v, 0);
    }
    // Runs do not overlap (each starts above the last id of the one before), so the one run that
    // spans the id is the only one that can hold it. Lookups come in bulk and in order (purges,
    // exports, verification), so the run found last, and the leaf after the last hit, go first.
    let run = this.runFound;
    if (run === undefined || Buffer.compare(id, run.firstId) < 0 || Buffer.compare(id, run.lastId) > 0) {
      run = undefined;
      for (const { key, value } of this.kv.range({ ...runsUpTo(this.tenantId, id), reverse: true, limit: 1 })) run = this.decodeRun(key, value);
      if (run === undefined || Buffer.compare(id, run.lastId) > 0) return undefined;
      this.runFound = run;
    }
    const next = this.lastHit + 1;
    if (next > run.first && next < run.first + run.count && Buffer.compare(this.idAt(next), id) === 0) return (this.lastHit = next);
    // The leaves' ids ascend through the run: binary search over the id tiles.
    let lo = run.first;
    let hi = run.first + run.count - 1;
    while (lo <= hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const c = Buffer.compare(this.idAt(mid), id);
      if (c === 0) return (this.lastHit = mid);
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /**
   * Every run of the log in key order, and the first id of the run the head names (for the
   * verifier, which checks that runs are ordered, apart, within the log and named by the head).
   */
  runs(): { runs: { firstId: Buffer; first: number; count: number; lastId: Buffer }[]; headRunId: Buffer | undefined } {
    const runs: Run[] = [];
    for (const { key, value } of this.kv.range(kindRange(this.tenantId, Kind.Run))) runs.push(this.decodeRun(key, value));
    return { runs, headRunId: this.loadHead().lastRunId };
  }

  /** The stored event id of leaf `index` as UTF-8 bytes, or undefined when the id tiles lack it. */
  storedIdAt(index: number): Buffer | undefined {
    return this.idTile(Math.floor(index / TILE_WIDTH))[index % TILE_WIDTH];
  }

  /** The stored id (UTF-8) of leaf `index`, which a run says exists. */
  private idAt(index: number): Buffer {
    const tileIndex = Math.floor(index / TILE_WIDTH);
    const id = this.idTile(tileIndex)[index % TILE_WIDTH];
    if (id === undefined) throw corrupt(`tenant ${this.tenantId}: a run covers leaf ${index} but event id tile ${tileIndex} does not record it; run verifyTenant`);
    return id;
  }

  /** The event ids (UTF-8) of leaves [256 * tileIndex, ...), as stored; cached. */
  private idTile(tileIndex: number): Buffer[] {
    let ids = this.idTiles.get(tileIndex);
    if (ids !== undefined) return ids;
    ids = [];
    for (const { key, value } of this.kv.range(stripsOf(idsKey(this.tenantId, tileIndex, 0)))) {
      const strip = key[key.length - 1]!;
      if (strip * STRIP_WIDTH !== ids.length) throw corrupt(`tenant ${this.tenantId}: strip ${strip} of event id tile ${tileIndex} is out of place`);
      const b = Buffer.from(value);
      let off = 0;
      while (off < b.length) {
        if (off + 2 > b.length) throw corrupt(`tenant ${this.tenantId}: event id tile ${tileIndex} ends inside a length`);
        const len = b.readUInt16BE(off);
        if (off + 2 + len > b.length) throw corrupt(`tenant ${this.tenantId}: event id tile ${tileIndex} ends inside an id`);
        ids.push(b.subarray(off + 2, off + 2 + len));
        off += 2 + len;
      }
    }
    // A binary search touches a few tiles near the top again and again; whole-cache eviction keeps this simple and bounded.
    if (this.idTiles.size >= 256) this.idTiles.clear();
    this.idTiles.set(tileIndex, ids);
    return ids;
  }

  /** The event ids of leaves [256 * tileIndex, ...), as stored. */
  idsOfTile(tileIndex: number): string[] {
    return this.idTile(tileIndex).map((b) => b.toString('utf8'));
  }

  /** Records that leaf `leafIndex`'s event was purged by retention: its hash stays in the tree. */
  markPurged(leafIndex: number, eventId: string): void {
    (this.kv as LogWriter).put(purgedKey(this.tenantId, leafIndex), Buffer.from(eventId, 'utf8'));
  }

  /** Leaf indexes whose events retention purged, ascending. */
  purgedLeaves(): Set<number> {
    const out = new Set<number>();
    for (const { key } of this.kv.range(kindRange(this.tenantId, Kind.Purged))) {
      const i = readU64(key, key.length - 8);
      if (i !== undefined) out.add(i);
    }
    return out;
  }

  /** Stores a signed checkpoint note; returns its sequence number. */
  addCheckpoint(text: string): number {
    const last = this.lastCheckpointEntry();
    const seq = last === undefined ? 0 : last.seq + 1;
    (this.kv as LogWriter).put(checkpointKey(this.tenantId, seq), Buffer.from(text, 'utf8'));
    return seq;
  }

  private lastCheckpointEntry(): { seq: number; text: string } | undefined {
    for (const { key, value } of this.kv.range({ ...kindRange(this.tenantId, Kind.Checkpoint), reverse: true, limit: 1 })) {
      return { seq: readU64(key, key.length - 8) ?? 0, text: Buffer.from(value).toString('utf8') };
    }
    return undefined;
  }

  /** The newest stored checkpoint note, if any. */
  lastCheckpoint(): string | undefined {
    return this.lastCheckpointEntry()?.text;
  }

  /** Every stored checkpoint note, oldest first (at most `limit`, newest ones when limited). */
  checkpoints(limit?: number): string[] {
    const r = kindRange(this.tenantId, Kind.Checkpoint);
    const out: string[] = [];
    for (const { value } of this.kv.range(limit === undefined ? r : { ...r, reverse: true, limit })) out.push(Buffer.from(value).toString('utf8'));
    return limit === undefined ? out : out.reverse();
  }
}

const EMPTY = Buffer.alloc(0);

/** Writes event id `id` as UTF-8 at b[o] (room for 3 bytes per UTF-16 unit); returns its length in bytes. */
function writeId(b: Buffer, o: number, id: string): number {
  // ASCII (every ULID) byte by byte: cheaper than a native write for 26 characters.
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c >= 0x80) return b.write(id, o, 'utf8');
    b[o + i] = c;
  }
  return id.length;
}

/** Bytewise order of a[ao, ao + al) against b[bo, bo + bl). */
function compareAt(a: Uint8Array, ao: number, al: number, b: Uint8Array, bo: number, bl: number): number {
  const n = al < bl ? al : bl;
  for (let i = 0; i < n; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

/** A run of leaves [first, first + count) whose event ids ascend from `firstId` to `lastId`. */
interface Run {
  firstId: Buffer;
  first: number;
  count: number;
  lastId: Buffer;
}

/** Run value: u64 first leaf, u64 count, then the last leaf's event id (UTF-8). */
function encodeRun(r: Run): Buffer {
  const b = Buffer.allocUnsafe(16 + r.lastId.length);
  writeU64(b, r.first, 0);
  writeU64(b, r.count, 8);
  r.lastId.copy(b, 16);
  return b;
}

/** A decoded head: the right edge, and the first event id of the log's last run (none before runs). */
interface Head {
  frontier: Frontier;
  lastRunId: Buffer | undefined;
}

/**
 * Head value: u64 size, then one 32-byte hash per set bit of size, largest subtree first, then the
 * first event id (UTF-8) of the log's last run, absent when the log has no run.
 */
export function encodeHead(f: Frontier, lastRunId?: Uint8Array): Buffer {
  const at = 8 + f.hashes.length * HASH_SIZE;
  const b = Buffer.allocUnsafe(at + (lastRunId?.length ?? 0));
  writeU64(b, f.size, 0);
  f.hashes.forEach((h, i) => h.copy(b, 8 + i * HASH_SIZE));
  if (lastRunId !== undefined) b.set(lastRunId, at);
  return b;
}

export function decodeHead(v: Uint8Array | undefined, tenantId: string): Frontier {
  return decodeHeadValue(v, tenantId).frontier;
}

function decodeHeadValue(v: Uint8Array | undefined, tenantId: string): Head {
  if (v === undefined) return { frontier: new Frontier(0, []), lastRunId: undefined };
  const size = v.length >= 8 ? readU64(v, 0) : undefined;
  const end = size === undefined ? 0 : 8 + popCount(size) * HASH_SIZE;
  if (size === undefined || v.length < end || (size === 0 && v.length !== 8)) {
    throw corrupt(`tenant ${tenantId}: the log head is ${v.length} bytes, which does not match the size it records; run verifyTenant`);
  }
  const hashes: Buffer[] = [];
  for (let off = 8; off < end; off += HASH_SIZE) hashes.push(Buffer.from(v.subarray(off, off + HASH_SIZE)));
  return { frontier: new Frontier(size, hashes), lastRunId: v.length > end ? Buffer.from(v.subarray(end)) : undefined };
}

/** Every tenant that has a log in this table. */
export function tenantsWithLogs(kv: LogReader): string[] {
  const out: string[] = [];
  let from: Buffer | undefined = undefined;
  for (;;) {
    let found: string | undefined;
    for (const { key } of kv.range(from === undefined ? { limit: 1 } : { gte: from, limit: 1 })) {
      const len = (key[0]! << 8) | key[1]!;
      found = Buffer.from(key.subarray(2, 2 + len)).toString('utf8');
      // Every key of this tenant is prefix + a kind byte below 0xff, so prefix + 0xff 0xff is past them all.
      const prefix = Buffer.from(key.subarray(0, 2 + len));
      from = Buffer.concat([prefix, Buffer.from([0xff, 0xff])]);
    }
    if (found === undefined) return out;
    out.push(found);
  }
}
