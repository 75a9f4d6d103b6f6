/**
 * Evidence of the store's own operations: every purge, backup, restore and key rotation is recorded
 * as an audit event in the reserved system tenant (SYSTEM_TENANT), with the acting process as actor
 * and the outcome, so the audit trail also shows what was done to the audit trail. Users cannot
 * insert into that tenant; the store writes there through prepareEvent's `allowSystem`.
 */
import os from 'node:os';
import type { JsonValue, Outcome } from './types.js';
import { SYSTEM_TENANT, type AuditEventInput } from './types.js';

let cachedUser: string | undefined;
function userName(): string {
  if (cachedUser === undefined) {
    try {
      cachedUser = os.userInfo().username || 'unknown';
    } catch {
      cachedUser = 'unknown';
    }
  }
  return cachedUser;
}

/** The event recording operation `action` ('store.backup', ...) on the store at `baseDir`. */
export function systemEvent(action: string, baseDir: string, outcome: Outcome, details: { [k: string]: JsonValue }): AuditEventInput {
  return {
    tenantId: SYSTEM_TENANT,
    actor: { id: `${userName()}@${os.hostname()}:${process.pid}`, type: 'process', name: userName() },
    action,
    resource: { type: 'store', id: baseDir },
    outcome,
    severity: outcome === 'success' ? 'info' : 'high',
    category: 'operations',
    details,
  };
}
