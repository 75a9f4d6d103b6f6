import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
import { Database } from '../../src/index.js';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-scratch-'));
const db = Database.open(dir, { checkpointIntervalMs: 0 });
const e = (s: string) => Buffer.from(s);
db.write((tx) => { tx.put(e('a'), e('tree-a')); tx.put(e('c'), e('tree-c')); });
db.checkpoint(); // a, c in tree
db.write((tx) => { tx.put(e('b'), e('mem-b1')); }); // b in memtable
const it = db.range();
const first = it.next(); // returns a (tree); memtable cursor prefetched b
console.log(first.value?.key.toString(), first.value?.value.toString());
db.write((tx) => { tx.put(e('b'), e('mem-b2')); });
const rest = [...it].map((x) => `${x.key}=${x.value}`);
console.log(rest);
db.close(); fs.rmSync(dir, { recursive: true, force: true });
