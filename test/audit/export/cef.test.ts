import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CEF_SEVERITY, cefExtensionEscape, cefHeaderEscape } from '../../../src/audit/export/cef.js';
import { exportToText } from '../../../src/audit/export/export-text.js';
import { awkwardEvents, sampleEvent, storedBytes } from './sample-events.js';

/** Splits a CEF line into its 7 header fields and its extension map, undoing CEF's escapes. */
function parseCef(line: string): { header: string[]; ext: Map<string, string> } {
  const header: string[] = [];
  let i = 0;
  let field = '';
  while (header.length < 7) {
    const c = line[i++];
    if (c === undefined) throw new Error('header ended early');
    if (c === '\\') {
      const n = line[i++];
      field += n === 'n' ? '\n' : n === 'r' ? '\r' : n;
    } else if (c === '|') {
      header.push(field);
      field = '';
    } else field += c;
  }
  const ext = new Map<string, string>();
  const rest = line.slice(i);
  // key=value pairs separated by spaces; a key starts where an unescaped '=' is preceded by a word
  // that follows a space. Values may contain spaces, so scan for ' key=' boundaries.
  const pairs = rest.split(/ (?=[A-Za-z0-9]+=)/);
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const raw = pair.slice(eq + 1);
    let value = '';
    for (let j = 0; j < raw.length; j++) {
      if (raw[j] === '\\') {
        const n = raw[++j];
        value += n === 'n' ? '\n' : n === 'r' ? '\r' : n;
      } else if (raw[j] === '=') throw new Error(`unescaped = in the value of ${pair.slice(0, eq)}`);
      else value += raw[j];
    }
    ext.set(pair.slice(0, eq), value);
  }
  return { header, ext };
}

test('CEF escapes |, \\ and line breaks in the header, and \\, = and line breaks in the extension', () => {
  assert.equal(cefHeaderEscape('a|b\\c\nd\re'), 'a\\|b\\\\c\\nd\\re');
  assert.equal(cefExtensionEscape('a=b\\c\nd\re|f'), 'a\\=b\\\\c\\nd\\re|f');
});

test('every event is one CEF line whose header and extension read back exactly', () => {
  const events = [...awkwardEvents(), sampleEvent(8)];
  const text = exportToText(events.map(storedBytes), 'cef');
  const lines = text.split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, events.length);
  events.forEach((e, i) => {
    const { header, ext } = parseCef(lines[i]!);
    assert.deepEqual(header, ['CEF:0', 'redb-audit', 'redb-audit', '0.1.0', e.action, e.action, String(CEF_SEVERITY[e.severity])]);
    assert.equal(ext.get('rt'), String(e.timestamp));
    assert.equal(ext.get('externalId'), e.id);
    assert.equal(ext.get('act'), e.action);
    assert.equal(ext.get('outcome'), e.outcome);
    assert.equal(ext.get('suid'), e.actor.id);
    assert.equal(ext.get('suser'), e.actor.name ?? undefined);
    assert.equal(ext.get('cs1'), e.tenantId);
    assert.equal(ext.get('cs1Label'), 'tenantId');
    assert.equal(ext.get('cs2'), e.resource.type);
    assert.equal(ext.get('cs3'), e.resource.id);
    assert.equal(ext.get('cs4'), e.resource.name);
    assert.equal(ext.get('cs5'), e.correlationId);
    assert.equal(ext.get('cs6'), e.sessionId);
    assert.equal(ext.get('src'), e.sourceIp ?? undefined);
    assert.equal(ext.get('requestClientApplication'), e.userAgent ?? undefined);
    assert.equal(ext.get('flexString2'), e.erased ? 'true' : undefined);
    assert.deepEqual(ext.get('msg') === undefined ? undefined : JSON.parse(ext.get('msg')!), e.details);
  });
});

test('CEF severities rise with the event severity and stay within 0 to 10', () => {
  const values = (['info', 'low', 'medium', 'high', 'critical', 'fatal'] as const).map((s) => CEF_SEVERITY[s]);
  assert.deepEqual([...values].sort((a, b) => a - b), values);
  assert.ok(values.every((v) => v >= 0 && v <= 10));
});
