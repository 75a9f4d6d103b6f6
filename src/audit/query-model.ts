/**
 * Validation of AuditQuery into a normal form the planner works on. An option set to undefined is
 * absent; an unknown option or a wrong type is a ValidationError naming the option. Time bounds are
 * epoch ms, `from` inclusive and `to` exclusive.
 */
import { ValidationError } from '../errors.js';
import { decodeCursor, type CursorPos } from './cursor.js';
import { describe, MAX_TIMESTAMP, toEpochMs } from './event-model.js';
import { OUTCOMES, SEVERITIES, type Outcome, type Severity } from './types.js';

/** Default page size of queryEvents. */
export const DEFAULT_LIMIT = 100;
/** Largest page of queryEvents. */
export const MAX_LIMIT = 10_000;

const QUERY_OPTIONS = [
  'tenantId', 'allTenants', 'actorId', 'action', 'resourceType', 'resourceId', 'outcome', 'category',
  'minSeverity', 'from', 'to', 'order', 'limit', 'cursor',
];
const QUERY_OPTION_SET = new Set(QUERY_OPTIONS);

/** A validated query. */
export interface NormalQuery {
  tenantId: string | undefined;
  allTenants: boolean;
  actorId: string | undefined;
  /** Exact action. */
  action: string | undefined;
  /** Action prefix (for 'record.*', 'record.'). */
  actionPrefix: string | undefined;
  resourceType: string | undefined;
  resourceId: string | undefined;
  outcome: Outcome | undefined;
  category: string | undefined;
  /** Rank in SEVERITIES; 0 means no severity filter. */
  minSeverity: number;
  from: number;
  /** Exclusive. */
  to: number;
  desc: boolean;
  /** Explicit limit, or undefined. */
  limit: number | undefined;
  cursor: string | undefined;
  /** The decoded cursor. */
  position: CursorPos | undefined;
}

/** Query option `name` of `q`: undefined, or a non-empty string without NUL. */
function optString(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new ValidationError(`query option ${name} must be a non-empty string, got ${describe(v)}`);
  if (v.includes('\u0000')) throw new ValidationError(`query option ${name} contains a NUL character, which no stored value holds`);
  return v;
}

/** `mode` 'page' caps limit at MAX_LIMIT (queryEvents); 'all' accepts any positive integer (iterate, export, count). */
export function normaliseQuery(query: unknown, mode: 'page' | 'all'): NormalQuery {
  if (typeof query !== 'object' || query === null || Array.isArray(query)) throw new ValidationError(`a query must be an object, got ${describe(query)}`);
  const q = query as Record<string, unknown>;
  for (const k of Object.keys(q)) {
    if (!QUERY_OPTION_SET.has(k) && q[k] !== undefined) throw new ValidationError(`unknown query option ${JSON.stringify(k)}; the options are ${QUERY_OPTIONS.join(', ')}`);
  }
  if (q.allTenants !== undefined && typeof q.allTenants !== 'boolean') throw new ValidationError(`query option allTenants must be a boolean, got ${describe(q.allTenants)}`);
  const allTenants = q.allTenants === true;
  const tenantId = optString(q, 'tenantId');
  if (allTenants && tenantId !== undefined) throw new ValidationError('give either tenantId or allTenants: true, not both');
  if (!allTenants && tenantId === undefined) throw new ValidationError('query option tenantId is required (or set allTenants: true to search every tenant)');
  let action = optString(q, 'action');
  let actionPrefix: string | undefined;
  if (action !== undefined && action.includes('*')) {
    if (!action.endsWith('.*') || action.indexOf('*') !== action.length - 1 || action.length < 3) {
      throw new ValidationError(`query option action ${JSON.stringify(action)}: a wildcard is only allowed as a final ".*", as in "record.*"`);
    }
    actionPrefix = action.slice(0, -1);
    action = undefined;
  }
  const outcome = q.outcome;
  if (outcome !== undefined && !OUTCOMES.includes(outcome as Outcome)) throw new ValidationError(`query option outcome must be one of ${OUTCOMES.join(', ')}, got ${describe(outcome)}`);
  let minSeverity = 0;
  if (q.minSeverity !== undefined) {
    minSeverity = SEVERITIES.indexOf(q.minSeverity as Severity);
    if (minSeverity < 0) throw new ValidationError(`query option minSeverity must be one of ${SEVERITIES.join(', ')}, got ${describe(q.minSeverity)}`);
  }
  const from = q.from === undefined ? 0 : toEpochMs(q.from, 'query option from');
  const to = q.to === undefined ? MAX_TIMESTAMP + 1 : toEpochMs(q.to, 'query option to');
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') throw new ValidationError(`query option order must be 'asc' or 'desc', got ${describe(q.order)}`);
  let limit: number | undefined;
  if (q.limit !== undefined) {
    const l = q.limit;
    const max = mode === 'page' ? MAX_LIMIT : Number.MAX_SAFE_INTEGER;
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > max) {
      throw new ValidationError(
        mode === 'page'
          ? `query option limit must be an integer from 1 to 10,000 (one page; use iterateEvents for more), got ${describe(l)}`
          : `query option limit must be a positive integer, got ${describe(l)}`,
      );
    }
    limit = l;
  }
  const cursor = q.cursor;
  if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length === 0)) throw new ValidationError(`query option cursor must be the nextCursor string of a previous page, got ${describe(cursor)}`);
  const out: NormalQuery = {
    tenantId,
    allTenants,
    actorId: optString(q, 'actorId'),
    action,
    actionPrefix,
    resourceType: optString(q, 'resourceType'),
    resourceId: optString(q, 'resourceId'),
    outcome: outcome as Outcome | undefined,
    category: optString(q, 'category'),
    minSeverity,
    from,
    to,
    desc: q.order !== 'asc',
    limit,
    cursor: cursor as string | undefined,
    position: undefined,
  };
  // Decoded here so that every entry point (count included) refuses a bad cursor alike.
  if (out.cursor !== undefined) out.position = decodeCursor(out.cursor, queryFingerprint(out));
  return out;
}

/** A string that identifies the query's filters and order (not its limit or cursor), for cursors. */
export function queryFingerprint(q: NormalQuery): string {
  return JSON.stringify([
    q.tenantId ?? null, q.allTenants, q.actorId ?? null, q.action ?? null, q.actionPrefix ?? null, q.resourceType ?? null,
    q.resourceId ?? null, q.outcome ?? null, q.category ?? null, q.minSeverity, q.from, q.to, q.desc,
  ]);
}
