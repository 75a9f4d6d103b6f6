import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CSV_COLUMNS, csvField } from '../../../src/audit/export/csv.js';
import { exportToText } from '../../../src/audit/export/export-text.js';
import type { AuditEvent } from '../../../src/audit/types.js';
import { awkwardEvents, sampleEvent, storedBytes } from './sample-events.js';

/** A strict RFC 4180 reader: CRLF-ended records, fields quoted with doubled inner quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`bare quote in an unquoted field at ${i}`);
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
    } else throw new Error(`expected , or CRLF at ${i}, found ${JSON.stringify(text[i])}`);
  }
  if (row.length > 0) throw new Error('last record not ended by CRLF');
  return rows;
}

function expectedFields(e: AuditEvent): string[] {
  const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
  return [
    e.id, new Date(e.timestamp).toISOString(), e.tenantId, e.actor.id, s(e.actor.type), s(e.actor.name), e.action,
    e.resource.type, e.resource.id, s(e.resource.name), e.outcome, e.severity, e.category, s(e.correlationId),
    s(e.sessionId), s(e.sourceIp), s(e.userAgent), String(e.schemaVersion), s(e.erased), e.details === undefined ? '' : JSON.stringify(e.details),
  ];
}

test('CSV parses back, field for field, with quotes, commas, newlines and unicode', () => {
  const events = [...awkwardEvents(), sampleEvent(9)];
  const rows = parseCsv(exportToText(events.map(storedBytes), 'csv'));
  assert.deepEqual(rows[0], [...CSV_COLUMNS]);
  assert.equal(rows.length, events.length + 1);
  events.forEach((e, i) => {
    assert.deepEqual(rows[i + 1], expectedFields(e));
    const details = rows[i + 1]![CSV_COLUMNS.indexOf('details')]!;
    if (e.details !== undefined) assert.deepEqual(JSON.parse(details), e.details);
  });
});

test('CSV of stored bytes equals CSV of the decoded events', () => {
  const events = awkwardEvents();
  assert.equal(exportToText(events.map(storedBytes), 'csv'), exportToText(events, 'csv'));
});

test('an empty CSV export is the header row alone', () => {
  assert.equal(exportToText([], 'csv'), CSV_COLUMNS.join(',') + '\r\n');
});

test('a CSV field is quoted only when RFC 4180 requires it', () => {
  assert.equal(csvField('plain text'), 'plain text');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('x\ny'), '"x\ny"');
  assert.equal(csvField('x\ry'), '"x\ry"');
  assert.equal(csvField('鍵 🔐'), '鍵 🔐');
});
