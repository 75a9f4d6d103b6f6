/**
 * Child for open-error tests that must run as another user: opens argv[2] (argv[3] "db" or
 * "manager", argv[4] "ro" for readOnly), reads key "k" of the default table (tenant "t" for a
 * manager), and prints one JSON line: { ok: true, value } or { ok: false, name, code, message }.
 */
import { Database, RedbError, RedbManager } from '../../src/index.js';

const [dir, mode, ro] = process.argv.slice(2);
try {
  const readOnly = ro === 'ro';
  let value: string | undefined;
  if (mode === 'manager') {
    const m = RedbManager.open({ baseDir: dir!, readOnly });
    value = m.shard('t').get(Buffer.from('k'))?.toString();
    m.close();
  } else {
    const db = Database.open(dir!, { readOnly });
    value = db.get(Buffer.from('k'))?.toString();
    db.close();
  }
  process.stdout.write(`${JSON.stringify({ ok: true, value })}\n`);
} catch (err) {
  const e = err as RedbError;
  process.stdout.write(`${JSON.stringify({ ok: false, name: e.name, code: e.code, message: e.message })}\n`);
}
