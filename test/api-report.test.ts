/**
 * The public surface is what docs/api-report.md says: every name src/index.ts exports, with its
 * declaration as the published .d.ts has it (internal members stripped). A change to the surface
 * fails here until the report is regenerated, so it shows up as a diff in review.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { buildApiReport, REPORT_PATH } from '../scripts/api-report.js';

/** The first lines where two texts differ, with a few lines of context, as a unified-style excerpt. */
function diffExcerpt(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let ea = a.length - 1;
  let eb = b.length - 1;
  while (ea >= i && eb >= i && a[ea] === b[eb]) {
    ea--;
    eb--;
  }
  const from = Math.max(0, i - 3);
  return [
    `@@ line ${i + 1} @@`,
    ...a.slice(from, i).map((l) => `  ${l}`),
    ...a.slice(i, ea + 1).slice(0, 40).map((l) => `- ${l}`),
    ...b.slice(i, eb + 1).slice(0, 40).map((l) => `+ ${l}`),
  ].join('\n');
}

test('the exported API matches the checked-in report (docs/api-report.md)', () => {
  const actual = buildApiReport();
  const expected = fs.readFileSync(REPORT_PATH, 'utf8');
  if (actual !== expected) {
    assert.fail(`the public API differs from docs/api-report.md (- report, + now):\n${diffExcerpt(expected, actual)}\n\nIf the change is intended, run \`npm run api-report\` and commit docs/api-report.md.`);
  }
});

test('the published declarations strip internal members', () => {
  const report = fs.readFileSync(REPORT_PATH, 'utf8');
  // pinCheckpoint hands out the page file itself and is for the backup layer only.
  assert.ok(!report.includes('pinCheckpoint'), 'Database.pinCheckpoint is @internal and must not be in the published surface');
  assert.match(report, /^## Database \(class, src\/shard\/database\.ts\)$/m);
  assert.match(report, /^ {4}write<T>\(fn: \(tx: WriteTxn\) => T\): T;$/m);
});
