import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportToText } from '../../../src/audit/export/export-text.js';
import { ocsfActivityId, toOcsf } from '../../../src/audit/export/ocsf.js';
import { awkwardEvents, sampleEvent, storedBytes } from './sample-events.js';

const REQUIRED = ['activity_id', 'actor', 'api', 'category_uid', 'class_uid', 'metadata', 'severity_id', 'src_endpoint', 'time', 'type_uid'];

test('every OCSF record carries API Activity 6003 required attributes', () => {
  const events = [...awkwardEvents(), sampleEvent(5)];
  const lines = exportToText(events.map(storedBytes), 'ocsf').trimEnd().split('\n');
  assert.equal(lines.length, events.length);
  lines.forEach((line, i) => {
    const r = JSON.parse(line) as Record<string, any>;
    const e = events[i]!;
    for (const name of REQUIRED) assert.ok(name in r, `record ${i} lacks ${name}`);
    assert.equal(r.class_uid, 6003);
    assert.equal(r.category_uid, 6);
    assert.equal(r.type_uid, 600300 + r.activity_id);
    assert.equal(r.time, e.timestamp);
    assert.equal(r.metadata.version, '1.6.0');
    assert.equal(r.metadata.product.name, 'redb-audit');
    assert.equal(r.metadata.uid, e.id);
    assert.equal(r.metadata.tenant_uid, e.tenantId);
    assert.equal(r.api.operation, e.action);
    assert.equal(r.actor.user.uid, e.actor.id);
    assert.equal(r.resources[0].uid, e.resource.id);
    assert.equal(r.resources[0].type, e.resource.type);
    assert.ok(Number.isInteger(r.severity_id) && r.severity_id >= 1 && r.severity_id <= 6);
    assert.deepEqual(r.unmapped.details, e.details);
    assert.equal(r.unmapped.outcome, e.outcome);
  });
});

test('OCSF status and severity follow the outcome and severity', () => {
  assert.equal(toOcsf(sampleEvent(1, { outcome: 'success' })).status_id, 1);
  assert.equal(toOcsf(sampleEvent(1, { outcome: 'failure' })).status_id, 2);
  const denied = toOcsf(sampleEvent(1, { outcome: 'denied' }));
  assert.equal(denied.status_id, 2);
  assert.equal(denied.status_detail, 'denied');
  assert.equal(toOcsf(sampleEvent(1, { outcome: 'unknown' })).status_id, 0);
  assert.equal(toOcsf(sampleEvent(1, { severity: 'info' })).severity_id, 1);
  assert.equal(toOcsf(sampleEvent(1, { severity: 'fatal' })).severity_id, 6);
});

test('the OCSF activity comes from the verb that ends the action', () => {
  assert.equal(ocsfActivityId('record.create'), 1);
  assert.equal(ocsfActivityId('patient.record.read'), 2);
  assert.equal(ocsfActivityId('user.role.update'), 3);
  assert.equal(ocsfActivityId('secret.Delete'), 4);
  assert.equal(ocsfActivityId('auth.login'), 99);
  assert.equal(ocsfActivityId('constructor'), 99);
});

test('an event without a source address or user agent leaves those attributes out', () => {
  const r = toOcsf(sampleEvent(3));
  assert.deepEqual(r.src_endpoint, {});
  assert.equal('http_request' in r, false);
  const withIp = toOcsf(sampleEvent(3, { sourceIp: '10.1.2.3', userAgent: 'ua' }));
  assert.deepEqual(withIp.src_endpoint, { ip: '10.1.2.3' });
  assert.deepEqual(withIp.http_request, { user_agent: 'ua' });
});
