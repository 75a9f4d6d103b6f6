// The audit benchmark's data: seeded, realistic multi-tenant audit events and the query lists.
// Every process regenerates them from the seed, so every engine gets byte-identical events and
// queries. Events are built with their members already in RFC 8785 order (sorted keys, no
// integer-like names), so JSON.stringify of an event is exactly the canonical JSON redb-audit
// stores, and every engine's NDJSON export of a tenant is byte-for-byte the same.
//
// Shape: 20 tenants whose sizes follow a Zipf law (the largest holds about a quarter of the events),
// about 200 actors (10 per tenant, a few busy ones), 40 actions in dotted families with read-heavy
// weights, per-tenant resource pools, outcomes with realistic failure and denial rates (higher for
// logins), severities that follow outcomes, and details objects from empty to about 1.5 KiB.

import type { AuditEvent, JsonValue, Outcome, Severity } from '../src/audit/types.js';
import { streamRng, type Rng } from './data.js';

export const TENANTS = 20;
export const ACTORS_PER_TENANT = 10;
/** Events arrive over this span, in time order (as an agent records them). */
export const SPAN_MS = 30 * 24 * 3600 * 1000;
export const START_MS = Date.UTC(2026, 9, 1);
export const HOUR_MS = 3600 * 1000;

/** Actions, by family, with relative weights (reads dominate, deletes and admin work are rare). */
const ACTIONS: [string, number][] = [
  ['auth.login', 60], ['auth.logout', 30], ['auth.mfa.challenge', 12], ['auth.mfa.verify', 11], ['auth.password.change', 2],
  ['auth.token.issue', 25], ['auth.token.refresh', 40], ['auth.token.revoke', 3],
  ['record.read', 160], ['record.list', 60], ['record.create', 30], ['record.update', 45], ['record.delete', 5], ['record.export', 4], ['record.share', 6],
  ['patient.record.read', 70], ['patient.record.update', 15], ['patient.chart.view', 35], ['patient.consent.update', 2],
  ['file.download', 30], ['file.upload', 18], ['file.delete', 3], ['file.share', 5],
  ['admin.user.create', 2], ['admin.user.disable', 1], ['admin.role.assign', 2], ['admin.role.revoke', 1], ['admin.policy.update', 1],
  ['config.read', 12], ['config.update', 3],
  ['secret.read', 10], ['secret.rotate', 1], ['secret.create', 1],
  ['container.start', 20], ['container.stop', 18], ['container.exec', 6], ['container.image.pull', 9],
  ['workflow.run.start', 14], ['workflow.run.finish', 13], ['workflow.approve', 2],
];
/** The action prefixes the count queries ask about. */
export const ACTION_FAMILIES = ['auth.*', 'record.*', 'patient.*', 'file.*', 'admin.*', 'container.*', 'workflow.*', 'auth.token.*'];

const RESOURCE_TYPES: Record<string, string> = {
  auth: 'session', record: 'record', patient: 'patient_record', file: 'file', admin: 'user', config: 'config',
  secret: 'secret', container: 'container', workflow: 'workflow',
};
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'curl/8.5.0', 'python-requests/2.32.3', 'okhttp/4.12.0', 'Go-http-client/2.0', 'aws-sdk-js/3.600.0', 'kube-probe/1.30',
];
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike', 'november'];

export interface AuditDataset {
  events: AuditEvent[];
  tenants: string[];
  /** Actor ids of each tenant. */
  actors: string[][];
}

/** Cumulative weights for picking by weight. */
function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => (out[i] = sum += w));
  return out;
}

function pick(rng: Rng, cum: Float64Array): number {
  const x = (rng.nextU32() / 0x1_0000_0000) * cum[cum.length - 1]!;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function ulid(rng: Rng, ms: number): string {
  let s = '';
  let t = ms;
  const time: string[] = [];
  for (let i = 0; i < 10; i++) {
    time.push(CROCKFORD[t % 32]!);
    t = Math.floor(t / 32);
  }
  s = time.reverse().join('');
  for (let i = 0; i < 16; i++) s += CROCKFORD[rng.below(32)]!;
  return s;
}

function word(rng: Rng): string {
  return WORDS[rng.below(WORDS.length)]!;
}

/** A details object of varied size, members in sorted order. */
function details(rng: Rng, action: string, outcome: Outcome): { [key: string]: JsonValue } | undefined {
  const r = rng.below(100);
  if (r < 15) return undefined;
  const d: { [key: string]: JsonValue } = {};
  if (r < 25) return d;
  const fields: [string, JsonValue][] = [];
  fields.push(['durationMs', rng.below(5000)]);
  if (outcome !== 'success') fields.push(['reason', outcome === 'denied' ? 'policy ' + word(rng) + ' denies ' + action : 'upstream returned ' + (500 + rng.below(4))]);
  if (rng.below(3) === 0) fields.push(['requestId', ulid(rng, START_MS).toLowerCase()]);
  if (rng.below(4) === 0) fields.push(['tags', Array.from({ length: 1 + rng.below(4) }, () => word(rng))]);
  if (rng.below(5) === 0) fields.push(['changes', { after: word(rng) + '-' + rng.below(1000), before: word(rng) + '-' + rng.below(1000), field: word(rng) }]);
  if (rng.below(50) === 0) fields.push(['payload', Array.from({ length: 60 + rng.below(120) }, () => word(rng)).join(' ')]);
  fields.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [k, v] of fields) d[k] = v;
  return d;
}

/** The dataset's tenants and their actors, the same for every size and seed. */
function population(): { tenants: string[]; actors: string[][] } {
  const tenants = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i + 1).padStart(2, '0')}`);
  const actors = tenants.map((t, ti) =>
    Array.from({ length: ACTORS_PER_TENANT }, (_, a) => (a === 0 ? `svc:${t}-ingest` : a === 1 ? `svc:scheduler` : `user:${WORDS[(a + ti) % WORDS.length]}.${ti}${a}`)),
  );
  return { tenants, actors };
}

/**
 * The events of a `count`-event dataset one at a time, in order: the i-th call of the returned
 * function gives the i-th event (timestamps spread over SPAN_MS by `count`). Holds no event itself,
 * so a long ingest can generate its batches as it goes; makeAuditDataset collects the same events.
 */
export function auditEventSource(seed: number, count: number): () => AuditEvent {
  const rng = streamRng(seed, 'audit-events');
  const { tenants, actors } = population();
  const tenantCum = cumulative(tenants.map((_, i) => 1 / Math.pow(i + 1, 1.1)));
  const actorCum = cumulative(Array.from({ length: ACTORS_PER_TENANT }, (_, i) => 1 / Math.pow(i + 1, 0.8)));
  const actionCum = cumulative(ACTIONS.map(([, w]) => w));
  const resourcesPerTenant = 2000;
  const step = SPAN_MS / count;
  let i = 0;
  return () => {
    const timestamp = Math.floor(START_MS + i * step + rng.below(Math.max(1, Math.floor(step))));
    i++;
    const ti = pick(rng, tenantCum);
    const tenantId = tenants[ti]!;
    const ai = pick(rng, actorCum);
    const actorId = actors[ti]![ai]!;
    const action = ACTIONS[pick(rng, actionCum)]![0];
    const family = action.slice(0, action.indexOf('.'));
    const failRate = family === 'auth' ? 12 : 3;
    const r = rng.below(1000) / 10;
    const outcome: Outcome = r < failRate ? 'failure' : r < failRate + 2.5 ? 'denied' : r < failRate + 3 ? 'unknown' : 'success';
    const severity: Severity =
      outcome === 'denied' ? (rng.below(4) === 0 ? 'high' : 'medium') : outcome === 'failure' ? (rng.below(3) === 0 ? 'medium' : 'low') : family === 'admin' || family === 'secret' ? 'low' : 'info';
    const isService = actorId.startsWith('svc:');
    const actor: AuditEvent['actor'] = isService ? { id: actorId, type: 'service' } : { id: actorId, name: actorId.slice(5).replace('.', ' '), type: 'user' };
    const resource: AuditEvent['resource'] = { id: `${RESOURCE_TYPES[family]}-${rng.below(resourcesPerTenant)}`, type: RESOURCE_TYPES[family]! };
    if (rng.below(4) === 0) resource.name = `${word(rng)} ${word(rng)}`;
    const d = details(rng, action, outcome);
    // Members in sorted order: JSON.stringify then writes canonical JSON.
    const e: Record<string, unknown> = {};
    e.action = action;
    e.actor = actor.name === undefined ? { id: actor.id, type: actor.type } : { id: actor.id, name: actor.name, type: actor.type };
    e.category = family;
    if (rng.below(3) === 0) e.correlationId = ulid(rng, timestamp).toLowerCase();
    if (d !== undefined) e.details = d;
    e.id = ulid(rng, timestamp);
    e.outcome = outcome;
    e.resource = resource.name === undefined ? { id: resource.id, type: resource.type } : { id: resource.id, name: resource.name, type: resource.type };
    e.schemaVersion = 1;
    if (!isService) e.sessionId = `sess-${ti}-${ai}-${Math.floor(timestamp / (4 * HOUR_MS))}`;
    e.severity = severity;
    e.sourceIp = isService ? `10.${ti}.0.${1 + ai}` : `${20 + ai}.${ti * 7 + 3}.${rng.below(256)}.${rng.below(256)}`;
    e.tenantId = tenantId;
    e.timestamp = timestamp;
    if (!isService) e.userAgent = USER_AGENTS[rng.below(USER_AGENTS.length)]!;
    return e as unknown as AuditEvent;
  };
}

/** `count` events across all tenants, in timestamp order, every member in canonical order. */
export function makeAuditDataset(seed: number, count: number): AuditDataset {
  const next = auditEventSource(seed, count);
  const events: AuditEvent[] = new Array(count);
  for (let i = 0; i < count; i++) events[i] = next();
  return { events, ...population() };
}

/** The events of makeAuditDataset(seed, count) in batches of `perBatch` (the last may be short),
 * each generated only when asked for. */
export function* auditEventBatches(seed: number, count: number, perBatch: number): Generator<AuditEvent[]> {
  const next = auditEventSource(seed, count);
  for (let from = 0; from < count; from += perBatch) {
    const batch = new Array<AuditEvent>(Math.min(perBatch, count - from));
    for (let i = 0; i < batch.length; i++) batch[i] = next();
    yield batch;
  }
}

export interface TimeWindowQuery { tenantId: string; from: number; to: number }
export interface ActorQuery { tenantId: string; actorId: string }
export interface ActionCountQuery { tenantId: string; prefix: string }
export interface ResourceQuery { tenantId: string; resourceType: string; resourceId: string }

export interface QuerySet {
  timeWindow: TimeWindowQuery[];
  actor: ActorQuery[];
  actionCount: ActionCountQuery[];
  resource: ResourceQuery[];
  /** The tenant with the most events (exported whole). */
  largestTenant: string;
}

/** Seeded queries; tenants are picked uniformly, so small tenants are asked about as often as big ones. */
export function makeQueries(seed: number, data: AuditDataset, counts: { timeWindow: number; actor: number; actionCount: number; resource: number }): QuerySet {
  const rng = streamRng(seed, 'audit-queries');
  const tenant = (): number => rng.below(data.tenants.length);
  const timeWindow = Array.from({ length: counts.timeWindow }, () => {
    const from = START_MS + rng.below(SPAN_MS - HOUR_MS);
    return { tenantId: data.tenants[tenant()]!, from, to: from + HOUR_MS };
  });
  const actor = Array.from({ length: counts.actor }, () => {
    const t = tenant();
    return { tenantId: data.tenants[t]!, actorId: data.actors[t]![rng.below(ACTORS_PER_TENANT)]! };
  });
  const actionCount = Array.from({ length: counts.actionCount }, () => ({
    tenantId: data.tenants[tenant()]!,
    prefix: ACTION_FAMILIES[rng.below(ACTION_FAMILIES.length)]!.slice(0, -1),
  }));
  // A resource that some event touched (most have a handful of events over the whole span), asked
  // after the others so that adding it left their queries as they were.
  const resource = Array.from({ length: counts.resource }, () => {
    const e = data.events[rng.below(data.events.length)]!;
    return { tenantId: e.tenantId, resourceType: e.resource.type, resourceId: e.resource.id };
  });
  const sizes = new Map<string, number>();
  for (const e of data.events) sizes.set(e.tenantId, (sizes.get(e.tenantId) ?? 0) + 1);
  const largestTenant = [...sizes].sort((a, b) => b[1] - a[1])[0]![0];
  return { timeWindow, actor, actionCount, resource, largestTenant };
}
