/**
 * Child process for the layout-conversion kill test: opens the two-shard store at argv[2], starts
 * converting its first-layout resource index in transactions of argv[3] entries, and kills itself
 * with SIGKILL as soon as argv[4] of those transactions have committed (durably), so that the
 * conversion stops between two of them as a crash would stop it.
 */
import { RedbManager } from '../../src/index.js';
import { upgradeIndexLayout } from '../../src/audit/index-layout.js';

const [dir, batchArg, killAfterArg] = process.argv.slice(2);
const killAfter = Number(killAfterArg);
const mgr = RedbManager.open({ baseDir: dir!, shardingEnabled: true, shardCount: 2, durability: 'immediate' });
let commits = 0;
for (let i = 0; i < mgr.shardCount; i++) {
  const db = mgr.shardAt(i);
  const write = db.write.bind(db);
  db.write = ((fn) => {
    const result = write(fn);
    if (++commits === killAfter) process.kill(process.pid, 'SIGKILL');
    return result;
  }) as typeof db.write;
}
upgradeIndexLayout(mgr, Number(batchArg));
process.stdout.write('finished without being killed\n');
