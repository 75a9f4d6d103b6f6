/**
 * The self-contained proof bundle (docs/integrity.md, "Proof bundle"): an NDJSON text whose first
 * line names the format, then one line per event with its hashed form, leaf index and inclusion
 * proof, then a trailer with one signed checkpoint per tenant (the proofs are against them) and the
 * (tenant, leaf index) of every event line in order. Checkpoints come last so that an export can
 * stream: each tenant's tree size is fixed by the snapshot the export reads, and the checkpoint of
 * that size is signed when the last line is written. `verifyExport` checks it offline with only
 * the verifier key: the checkpoint signatures, every line's inclusion proof, and the order and
 * completeness of the lines against the trailer.
 *
 * Invariant: every line the writer emits is RFC 8785 canonical JSON, so the bytes are determined by
 * the content; the verifier re-canonicalises the event it reads, so a change of formatting alone
 * (whitespace, key order) is not reported, and any change of content is.
 */
import { ValidationError } from '../errors.js';
import { canonicalJson } from '../audit/canonical-json.js';
import { parseCheckpoint } from './checkpoint-note.js';
import { HASH_SIZE, leafHash, verifyInclusion } from './merkle.js';
import { openNote, parseVkey } from './signed-note.js';

/** The `format` member of a bundle's first line. */
export const BUNDLE_FORMAT = 'redb-audit-proof-bundle';
export const BUNDLE_VERSION = 1;

/** One event line's content. */
export interface BundleEntry {
  tenantId: string;
  leafIndex: number;
  /** Inclusion proof against the tenant's checkpoint, nearest sibling first. */
  proof: readonly Uint8Array[];
  /** The event's hashed form (personal-data fields as their envelopes). */
  event: unknown;
}

/** Writes a bundle line by line, so an export can stream it. */
export class ProofBundleWriter {
  private readonly order: [string, number][] = [];
  /** Tenants with lines, so the trailer can be checked to cover them all. */
  readonly tenants = new Set<string>();

  /** The first line (with its newline). */
  header(): string {
    return canonicalJson({ format: BUNDLE_FORMAT, version: BUNDLE_VERSION }) + '\n';
  }

  /** One event line (with its newline). */
  line(e: BundleEntry): string {
    this.tenants.add(e.tenantId);
    this.order.push([e.tenantId, e.leafIndex]);
    return canonicalJson({ event: e.event, leafIndex: e.leafIndex, proof: e.proof.map((p) => Buffer.from(p).toString('base64')), tenantId: e.tenantId }) + '\n';
  }

  /**
   * The last line (with its newline): the signed checkpoint of each tenant (tenant id to note; the
   * lines' proofs must be against them), the count and the (tenant, leaf index) of each event line.
   */
  trailer(checkpoints: ReadonlyMap<string, string>): string {
    for (const t of this.tenants) if (!checkpoints.has(t)) throw new ValidationError(`no checkpoint for tenant ${t} in this bundle`);
    return canonicalJson({ checkpoints: Object.fromEntries(checkpoints), end: true, events: this.order.length, order: this.order }) + '\n';
  }
}

/** One problem found in a bundle. `line` is 1-based. */
export interface BundleIssue {
  line: number;
  kind: 'malformed' | 'signature' | 'edited' | 'dropped' | 'inserted' | 'reordered';
  message: string;
}

/** What verifyExport found. */
export interface ExportVerifyReport {
  ok: boolean;
  /** Event lines read. */
  events: number;
  /** Event lines whose inclusion proof verified against a signed checkpoint. */
  verified: number;
  /** The signed checkpoints the bundle carries (only those whose signature verified). */
  checkpoints: { tenantId: string; origin: string; size: number; rootHash: string }[];
  issues: BundleIssue[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Indexes (into `seq`) of one longest strictly increasing subsequence. */
function longestIncreasing(seq: readonly number[]): Set<number> {
  const tailsIdx: number[] = [];
  const prev = new Array<number>(seq.length).fill(-1);
  for (let i = 0; i < seq.length; i++) {
    let lo = 0;
    let hi = tailsIdx.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seq[tailsIdx[mid]!]! < seq[i]!) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tailsIdx[lo - 1]!;
    tailsIdx[lo] = i;
  }
  const keep = new Set<number>();
  for (let i = tailsIdx.length ? tailsIdx[tailsIdx.length - 1]! : -1; i >= 0; i = prev[i]!) keep.add(i);
  return keep;
}

/**
 * Checks a proof bundle offline, with no store: every checkpoint's signature under `vkey`, every
 * event line's inclusion proof, and that no line was dropped, inserted or moved. Each problem is
 * reported with its 1-based line number.
 */
export function verifyExport(text: string, options: { vkey: string }): ExportVerifyReport {
  if (typeof text !== 'string') throw new ValidationError('verifyExport needs the bundle text as a string');
  const verifier = parseVkey(options?.vkey);
  const issues: BundleIssue[] = [];
  const report: ExportVerifyReport = { ok: false, events: 0, verified: 0, checkpoints: [], issues };
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();

  let header: unknown;
  try {
    header = JSON.parse(lines[0] ?? '');
  } catch {
    header = undefined;
  }
  if (!isObject(header) || header.format !== BUNDLE_FORMAT || header.version !== BUNDLE_VERSION) {
    issues.push({ line: 1, kind: 'malformed', message: `the first line is not a ${BUNDLE_FORMAT} version ${BUNDLE_VERSION} header; this is not a proof bundle, or its header was edited` });
    return report;
  }

  // The trailer is the last line that parses as one; lines after it are inserted.
  let trailerAt = -1;
  let order: [string, number][] | undefined;
  let notes: Record<string, unknown> = {};
  for (let i = lines.length - 1; i >= 1; i--) {
    try {
      const t = JSON.parse(lines[i]!);
      if (isObject(t) && t.end === true && isObject(t.checkpoints) && Array.isArray(t.order) && t.order.every((o) => Array.isArray(o) && typeof o[0] === 'string' && Number.isSafeInteger(o[1]))) {
        trailerAt = i;
        order = t.order as [string, number][];
        notes = t.checkpoints;
        break;
      }
    } catch {
      // not the trailer
    }
  }
  if (order === undefined) {
    // Without the trailer there is no checkpoint to check any line against.
    issues.push({ line: lines.length + 1, kind: 'dropped', message: 'the trailer line (checkpoints and the list of event lines) is missing; the bundle was cut short and none of its lines can be verified' });
    report.events = lines.length - 1;
    return report;
  }
  for (let i = trailerAt + 1; trailerAt >= 0 && i < lines.length; i++) {
    issues.push({ line: i + 1, kind: 'inserted', message: 'a line after the trailer' });
  }
  const trusted = new Map<string, { size: number; root: Buffer }>();
  for (const [tenantId, note] of Object.entries(notes)) {
    const body = typeof note === 'string' ? openNote(note, verifier) : undefined;
    const cp = body === undefined ? undefined : parseCheckpoint(body);
    if (cp === undefined) {
      issues.push({ line: trailerAt + 1, kind: 'signature', message: `the checkpoint of tenant ${tenantId} is not validly signed by ${verifier.name}; its events cannot be trusted` });
      continue;
    }
    trusted.set(tenantId, { size: cp.size, root: cp.rootHash });
    report.checkpoints.push({ tenantId, origin: cp.origin, size: cp.size, rootHash: cp.rootHash.toString('base64') });
  }
  const expected = new Map<string, number>();
  order.forEach(([t, i], p) => expected.set(`${t}\u0000${i}`, p));

  const seen = new Set<string>();
  const placed: { line: number; pos: number }[] = [];
  const end = trailerAt;
  for (let i = 1; i < end; i++) {
    const lineNo = i + 1;
    report.events++;
    let e: unknown;
    try {
      e = JSON.parse(lines[i]!);
    } catch {
      issues.push({ line: lineNo, kind: 'edited', message: 'the line is not valid JSON' });
      continue;
    }
    if (!isObject(e) || typeof e.tenantId !== 'string' || !Number.isSafeInteger(e.leafIndex) || !Array.isArray(e.proof) || !isObject(e.event)) {
      issues.push({ line: lineNo, kind: 'edited', message: 'the line lacks tenantId, leafIndex, proof or event' });
      continue;
    }
    const tenantId = e.tenantId;
    const leafIndex = e.leafIndex as number;
    const cp = trusted.get(tenantId);
    let ok = false;
    if (cp === undefined) {
      issues.push({ line: lineNo, kind: notes[tenantId] === undefined ? 'inserted' : 'signature', message: `no validly signed checkpoint for tenant ${tenantId}` });
    } else {
      const proof = e.proof.map((p) => (typeof p === 'string' ? Buffer.from(p, 'base64') : Buffer.alloc(0)));
      let leaf: Buffer | undefined;
      try {
        leaf = leafHash(Buffer.from(canonicalJson(e.event), 'utf8'));
      } catch {
        leaf = undefined;
      }
      ok = leaf !== undefined && e.event.tenantId === tenantId && proof.every((p) => p.length === HASH_SIZE) && verifyInclusion(leafIndex, cp.size, leaf, proof, cp.root);
      if (ok) report.verified++;
      else issues.push({ line: lineNo, kind: 'edited', message: `event ${String(e.event.id)} (tenant ${tenantId}, leaf ${leafIndex}) does not match its inclusion proof against the signed checkpoint: its content was changed` });
    }
    const key = `${tenantId}\u0000${leafIndex}`;
    const pos = expected.get(key);
    if (pos === undefined || seen.has(key)) {
      issues.push({ line: lineNo, kind: 'inserted', message: `leaf ${leafIndex} of tenant ${tenantId} is ${seen.has(key) ? 'a repeat of an earlier line' : 'not among the exported events'}` });
      continue;
    }
    seen.add(key);
    if (pos !== undefined) placed.push({ line: lineNo, pos });
  }
  const inOrder = longestIncreasing(placed.map((p) => p.pos));
  placed.forEach((p, i) => {
    if (!inOrder.has(i)) issues.push({ line: p.line, kind: 'reordered', message: `this line belongs at line ${p.pos + 2}: lines were moved` });
  });
  order.forEach(([t, i], p) => {
    if (!seen.has(`${t}\u0000${i}`)) issues.push({ line: p + 2, kind: 'dropped', message: `the event at leaf ${i} of tenant ${t}, expected at line ${p + 2}, is missing` });
  });
  if (end - 1 !== order.length && !issues.length) {
    issues.push({ line: end + 1, kind: 'malformed', message: `the trailer lists ${order.length} events but ${end - 1} lines precede it` });
  }
  issues.sort((a, b) => a.line - b.line);
  report.ok = issues.length === 0;
  return report;
}
