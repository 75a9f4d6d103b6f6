/**
 * `redb-audit compact`: rewrites every shard's page file densely and gives free space back to the
 * file system (Database.compact). Needs the writer lock.
 */
import type { Command } from 'commander';
import { verbAction, type CliContext } from '../context.js';
import { bytes, ms } from '../render.js';

export function register(program: Command): void {
  program
    .command('compact')
    .description('rewrite every shard densely and return free space to the file system (takes the writer lock)')
    .addHelpText('after', '\nExample:\n  $ redb-audit compact --dir ./audit')
    .action(verbAction((ctx) => compact(ctx)));
}

function compact(ctx: CliContext): void {
  const manager = ctx.openManager('write');
  const shards = [];
  try {
    for (let i = 0; i < manager.shardCount; i++) shards.push({ shard: i, ...manager.shardAt(i).compact() });
  } finally {
    manager.close();
  }
  const before = shards.reduce((n, s) => n + s.bytesBefore, 0);
  const after = shards.reduce((n, s) => n + s.bytesAfter, 0);
  const durationMs = shards.reduce((n, s) => n + s.durationMs, 0);
  ctx.result({ dir: ctx.dir, bytesBefore: before, bytesAfter: after, shards }, () => `compacted ${shards.length} shard(s): ${bytes(before)} -> ${bytes(after)} in ${ms(durationMs)}`);
}
