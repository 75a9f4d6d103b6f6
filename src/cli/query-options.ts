/**
 * The query flags shared by query, export and serve's /events: one list of filters, parsed once,
 * turned into an AuditQuery. serve takes the same names as URL parameters (queryFromParams).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ValidationError } from '../errors.js';
import { OUTCOMES, SEVERITIES, type AuditQuery, type Outcome, type Severity } from '../audit/types.js';
import { choiceArg, intArg, timeArg } from './args.js';

/** The filter flags as commander parses them. */
export interface QueryFlags {
  tenant?: string;
  allTenants?: boolean;
  actor?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  outcome?: Outcome;
  category?: string;
  minSeverity?: Severity;
  from?: number;
  to?: number;
  limit?: number;
  asc?: boolean;
}

/** Adds the filter flags to a verb. */
export function addQueryOptions(cmd: Command, limitHelp: string): Command {
  return cmd
    .option('--tenant <T>', 'the tenant whose events to read (required unless --all-tenants)')
    .option('--all-tenants', 'read every tenant (the system tenant included)')
    .option('--actor <A>', 'actor id')
    .option('--action <X>', 'exact action, or a prefix written record.*')
    .option('--resource-type <R>', 'resource type')
    .option('--resource-id <I>', 'resource id')
    .option('--outcome <O>', OUTCOMES.join(', '), choiceArg(OUTCOMES))
    .option('--category <C>', 'category')
    .option('--min-severity <S>', `lowest severity: ${SEVERITIES.join(', ')}`, choiceArg(SEVERITIES))
    .option('--from <time>', 'from this time on (inclusive): ISO-8601 or epoch ms', timeArg)
    .option('--to <time>', 'before this time (exclusive): ISO-8601 or epoch ms', timeArg)
    .option('--limit <N>', limitHelp, intArg(1))
    .option('--asc', 'oldest first (default: newest first)');
}

/** The AuditQuery of parsed flags. */
export function toAuditQuery(f: QueryFlags): AuditQuery {
  if (f.tenant === undefined && !f.allTenants) throw new ValidationError('give --tenant <T> (or --all-tenants to search every tenant)');
  if (f.tenant !== undefined && f.allTenants) throw new ValidationError('give either --tenant or --all-tenants, not both');
  const q: AuditQuery = f.allTenants ? { allTenants: true } : { tenantId: f.tenant! };
  if (f.actor !== undefined) q.actorId = f.actor;
  if (f.action !== undefined) q.action = f.action;
  if (f.resourceType !== undefined) q.resourceType = f.resourceType;
  if (f.resourceId !== undefined) q.resourceId = f.resourceId;
  if (f.outcome !== undefined) q.outcome = f.outcome;
  if (f.category !== undefined) q.category = f.category;
  if (f.minSeverity !== undefined) q.minSeverity = f.minSeverity;
  if (f.from !== undefined) q.from = f.from;
  if (f.to !== undefined) q.to = f.to;
  if (f.limit !== undefined) q.limit = f.limit;
  if (f.asc) q.order = 'asc';
  return q;
}

const PARAMS: Record<string, keyof QueryFlags> = {
  tenant: 'tenant',
  actor: 'actor',
  action: 'action',
  resourceType: 'resourceType',
  'resource-type': 'resourceType',
  resourceId: 'resourceId',
  'resource-id': 'resourceId',
  outcome: 'outcome',
  category: 'category',
  minSeverity: 'minSeverity',
  'min-severity': 'minSeverity',
  from: 'from',
  to: 'to',
  limit: 'limit',
};

/**
 * The AuditQuery of URL parameters named like the flags (tenant, actor, action, resource-type,
 * resource-id, outcome, category, min-severity, from, to, limit, order=asc, cursor). Throws
 * ValidationError naming a bad or unknown parameter.
 */
export function queryFromParams(params: URLSearchParams): AuditQuery {
  const f: QueryFlags = {};
  let cursor: string | undefined;
  for (const [name, value] of params) {
    try {
      if (name === 'cursor') cursor = value;
      else if (name === 'order') {
        if (value !== 'asc' && value !== 'desc') throw new InvalidArgumentError(`expected asc or desc, got "${value}"`);
        f.asc = value === 'asc';
      } else if (name === 'allTenants' || name === 'all-tenants') f.allTenants = value === '' || value === 'true' || value === '1';
      else {
        const key = PARAMS[name];
        if (!key) throw new ValidationError(`unknown parameter ${name}; the parameters are ${[...new Set(Object.keys(PARAMS))].join(', ')}, order, cursor, all-tenants`);
        const parsed =
          key === 'from' || key === 'to'
            ? timeArg(value)
            : key === 'limit'
              ? intArg(1, 10_000)(value)
              : key === 'outcome'
                ? choiceArg(OUTCOMES)(value)
                : key === 'minSeverity'
                  ? choiceArg(SEVERITIES)(value)
                  : value;
        (f as Record<string, unknown>)[key] = parsed;
      }
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new ValidationError(`parameter ${name}: ${err.message}`);
      throw err;
    }
  }
  const q = toAuditQuery(f);
  if (cursor !== undefined) q.cursor = cursor;
  return q;
}
