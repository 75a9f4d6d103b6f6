/**
 * The demo's writer: commits numbered transactions into the database given as argv[2], starting at
 * argv[3], and prints "ack <n>" after each commit is durable, until it is killed.
 */
import { Database } from '../index.js';

const dir = process.argv[2]!;
let n = Number(process.argv[3]);
const db = Database.open(dir);
for (;;) {
  db.write((tx) => {
    tx.table('events').put(Buffer.from(`event/${String(n).padStart(8, '0')}`), Buffer.from(JSON.stringify({ n, at: Date.now(), action: 'demo.write' })));
    tx.put(Buffer.from('last-commit'), Buffer.from(String(n)));
  });
  process.stdout.write(`ack ${n}\n`);
  n++;
}
