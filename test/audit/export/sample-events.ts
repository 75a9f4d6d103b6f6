// Events for the export tests, and the stored form of an event: RFC 8785 canonical JSON bytes (keys
// sorted by UTF-16 code units, no whitespace), which is what the store hands the exporters.
import type { AuditEvent, JsonValue } from '../../../src/audit/types.js';

function canonical(v: JsonValue | undefined): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x)).join(',')}]`;
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
}

/** The stored bytes of an event. */
export function storedBytes(e: AuditEvent): Uint8Array {
  return new TextEncoder().encode(canonical(e as unknown as JsonValue));
}

/** The event as the store returns it: decoded from its stored bytes (members in canonical order). */
export function asStored(e: AuditEvent): AuditEvent {
  return JSON.parse(new TextDecoder().decode(storedBytes(e))) as AuditEvent;
}

/** A plain event; `over` replaces any field. */
export function sampleEvent(i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: `01J0000000000000000000${String(i).padStart(4, '0')}`,
    timestamp: Date.UTC(2026, 2, 1) + i * 1000,
    tenantId: 'acme',
    actor: { id: `user-${i % 7}`, type: 'user', name: `User ${i % 7}` },
    action: i % 2 ? 'record.update' : 'auth.login',
    resource: { type: 'record', id: `r-${i}` },
    outcome: i % 5 === 0 ? 'failure' : 'success',
    severity: 'info',
    category: i % 2 ? 'record' : 'auth',
    schemaVersion: 1,
    ...over,
  };
}

/** Events whose strings carry every character the formats must escape. */
export function awkwardEvents(): AuditEvent[] {
  const events: AuditEvent[] = [
    sampleEvent(1, {
      actor: { id: 'a,b', type: 'service', name: 'Dr. "Quote", Jr.' },
      resource: { type: 'patient|record', id: 'x=y\\z', name: 'line one\nline two\r\nline three' },
      details: { note: 'commas, "quotes" and\nnewlines', emoji: '🔐 ключ 鍵', n: 3, nested: { a: [1, true, null] } },
      correlationId: 'corr=1|2',
      sessionId: 'sess\\1',
      sourceIp: '2001:db8::1',
      userAgent: 'curl/8.0 (x=y; a|b)',
    }),
    sampleEvent(2, { actor: { id: 'ünïcödé-👤', name: null }, action: 'auth.token.revoke', outcome: 'denied', severity: 'high', erased: true }),
    sampleEvent(3, { details: {}, outcome: 'unknown', severity: 'fatal', action: 'weird\\action|with=pipes' }),
    sampleEvent(4, { resource: { type: '', id: '"' }, sourceIp: '10.0.0.1', severity: 'critical' }),
  ];
  return events.map(asStored);
}
