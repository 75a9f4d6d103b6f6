/**
 * A seeded generator of realistic multi-tenant audit events in the AuditStore event model, for the
 * `npm start` story, the `generate` verb, fixtures/sample-events.ndjson and tests. The same seed and
 * end time always give the same events.
 *
 * What it models: five tenants (a hospital, a payment processor, an automation platform, a lab, a
 * cloud host), each with users, a few admins and service accounts; sessions that start with a login
 * (about one in eight fails, more for a brute-forced account) and then read and change records,
 * payments, secrets, containers and workflows; admins granting roles and changing configuration.
 * Timestamps spread over `spanDays` ending at `endMs`, in ascending order, so "last week" queries
 * have something to find.
 */
import type { AuditEventInput, Outcome, Severity } from '../audit/types.js';

/** mulberry32: small, fast and seedable; the same sequence on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface TenantProfile {
  id: string;
  /** [action, resource type, severity when it succeeds] a regular user does. */
  work: [string, string, Severity][];
}

/** The tenants the generator writes, with what their users do. */
export const SAMPLE_TENANTS: readonly TenantProfile[] = [
  {
    id: 'acme-health',
    work: [
      ['patient_record.read', 'patient_record', 'info'],
      ['patient_record.read', 'patient_record', 'info'],
      ['patient_record.update', 'patient_record', 'low'],
      ['prescription.create', 'prescription', 'low'],
      ['report.export', 'report', 'medium'],
    ],
  },
  {
    id: 'globex-pay',
    work: [
      ['payment.authorize', 'payment', 'info'],
      ['payment.authorize', 'payment', 'info'],
      ['payment.refund', 'payment', 'medium'],
      ['account.read', 'account', 'info'],
      ['payout.approve', 'payout', 'high'],
    ],
  },
  {
    id: 'initech-ops',
    work: [
      ['workflow.run', 'workflow', 'info'],
      ['container.start', 'container', 'info'],
      ['container.stop', 'container', 'info'],
      ['secret.read', 'secret', 'medium'],
      ['deployment.create', 'deployment', 'low'],
    ],
  },
  {
    id: 'umbrella-lab',
    work: [
      ['sample.read', 'sample', 'info'],
      ['sample.update', 'sample', 'low'],
      ['instrument.calibrate', 'instrument', 'low'],
      ['dataset.export', 'dataset', 'medium'],
    ],
  },
  {
    id: 'stark-cloud',
    work: [
      ['vm.create', 'vm', 'low'],
      ['vm.delete', 'vm', 'medium'],
      ['bucket.read', 'bucket', 'info'],
      ['bucket.policy_update', 'bucket', 'high'],
      ['api_key.create', 'api_key', 'medium'],
    ],
  },
];

const ADMIN_WORK: [string, string, Severity][] = [
  ['role.grant', 'role', 'high'],
  ['role.revoke', 'role', 'medium'],
  ['user.create', 'user', 'medium'],
  ['user.disable', 'user', 'high'],
  ['config.update', 'config', 'high'],
];

const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', 'Mozilla/5.0 (Macintosh) Safari/18.1', 'redb-agent/1.4.0', 'curl/8.5.0', 'python-requests/2.32'];
const USERS_PER_TENANT = 60;
const ADMINS_PER_TENANT = 3;
const RESOURCES_PER_TYPE = 400;

/** Options of {@link generateEvents}. */
export interface SampleOptions {
  /** Default 42. */
  seed?: number;
  /** Timestamp of the last event, epoch ms. Default: now, rounded down to the minute. */
  endMs?: number;
  /** Days the events span. Default 30. */
  spanDays?: number;
}

function hex(rnd: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16);
  return s;
}

/** The actor id of user `n` of `tenant` (admins are users 0..2). */
export function sampleActor(tenant: string, n: number): string {
  return n < ADMINS_PER_TENANT ? `admin-${n}@${tenant}.example` : `user-${n}@${tenant}.example`;
}

/** `count` events, oldest first. */
export function* generateEvents(count: number, options: SampleOptions = {}): Generator<AuditEventInput> {
  const rnd = prng(options.seed ?? 42);
  const endMs = options.endMs ?? Math.floor(Date.now() / 60_000) * 60_000;
  const span = (options.spanDays ?? 30) * 86_400_000;
  const step = span / Math.max(1, count);
  let ts = endMs - span;
  let session: { tenant: TenantProfile; user: number; id: string; ip: string; agent: string; left: number } | null = null;
  for (let i = 0; i < count; i++) {
    ts += step * (0.5 + rnd());
    const when = Math.min(endMs, Math.floor(ts));
    if (!session || session.left === 0) {
      const tenant = SAMPLE_TENANTS[Math.floor(rnd() * SAMPLE_TENANTS.length)]!;
      // A few accounts are hammered by password guessing: their logins fail far more often.
      const user = rnd() < 0.04 ? USERS_PER_TENANT - 1 : Math.floor(rnd() * USERS_PER_TENANT);
      const ip = user === USERS_PER_TENANT - 1 && rnd() < 0.7 ? `203.0.113.${Math.floor(rnd() * 254) + 1}` : `10.${user}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 254) + 1}`;
      const failed = rnd() < (user === USERS_PER_TENANT - 1 ? 0.85 : 0.08);
      const actor = sampleActor(tenant.id, user);
      session = { tenant, user, id: `sess-${hex(rnd, 12)}`, ip, agent: AGENTS[user % AGENTS.length]!, left: failed ? 0 : 2 + Math.floor(rnd() * 10) };
      yield {
        id: `evt-${hex(rnd, 8)}-${i.toString(36)}`,
        timestamp: when,
        tenantId: tenant.id,
        actor: { id: actor, type: 'user', name: `User ${user}` },
        action: 'auth.login',
        resource: { type: 'session', id: session.id },
        outcome: failed ? 'failure' : 'success',
        severity: failed ? 'medium' : 'info',
        category: 'authentication',
        sessionId: session.id,
        sourceIp: ip,
        userAgent: session.agent,
        details: failed ? { reason: rnd() < 0.8 ? 'bad_password' : 'mfa_failed', attempt: 1 + Math.floor(rnd() * 5) } : { mfa: rnd() < 0.7 },
      };
      continue;
    }
    session.left--;
    const { tenant, user } = session;
    const isAdmin = user < ADMINS_PER_TENANT;
    const isService = user % 10 === 7;
    const [action, resourceType, okSeverity] = isAdmin && rnd() < 0.5 ? ADMIN_WORK[Math.floor(rnd() * ADMIN_WORK.length)]! : tenant.work[Math.floor(rnd() * tenant.work.length)]!;
    const roll = rnd();
    const outcome: Outcome = roll < 0.9 ? 'success' : roll < 0.96 ? 'denied' : 'failure';
    const severity: Severity = outcome === 'denied' ? 'high' : outcome === 'failure' ? 'medium' : okSeverity;
    const resourceNo = Math.floor(rnd() * rnd() * RESOURCES_PER_TYPE);
    const event: AuditEventInput = {
      id: `evt-${hex(rnd, 8)}-${i.toString(36)}`,
      timestamp: when,
      tenantId: tenant.id,
      actor: { id: sampleActor(tenant.id, user), type: isAdmin ? 'admin' : isService ? 'service' : 'user' },
      action,
      resource: { type: resourceType, id: `${resourceType}-${resourceNo}` },
      outcome,
      severity,
      sessionId: session.id,
      sourceIp: session.ip,
      userAgent: session.agent,
      correlationId: `req-${hex(rnd, 16)}`,
      details: outcome === 'denied' ? { reason: 'policy', policy: `${tenant.id}/${resourceType}-access` } : { durationMs: Math.floor(rnd() * 900) + 5 },
    };
    yield event;
  }
}
