/**
 * Child process for the forwarder crash tests: builds the feed named by argv and forwards it.
 *   argv: <connectionString> <table> <mode: tail | once> <source: memory:<storeId>:<shards>:<events> | store:<shards>:<dir>>
 * `tail` starts the background forwarder and prints "ready" (the parent then SIGKILLs it at a random
 * moment); `once` runs runOnce() and prints its report as JSON, exiting 0.
 */
import type { RedbAuditStore } from '../../src/audit/audit-store.js';
import { Forwarder, type ChangeFeedSource } from '../../src/forward/forwarder.js';
import { openStore } from '../support/audit-fixture.js';
import { MemoryFeed } from '../support/memory-feed.js';

const [connectionString, table, mode, spec] = process.argv.slice(2) as [string, string, string, string];

async function openSource(): Promise<{ source: ChangeFeedSource | RedbAuditStore; close(): void }> {
  const [kind, ...rest] = spec.split(':');
  if (kind === 'memory') {
    const [storeId, shards, events] = rest as [string, string, string];
    return { source: new MemoryFeed(storeId, Number(shards), Number(events)), close: () => {} };
  }
  if (kind === 'store') {
    const [shards, ...dir] = rest as [string, ...string[]];
    const store = await openStore(dir.join(':'), Number(shards));
    return { source: store, close: () => store.close() };
  }
  throw new Error(`unknown source ${spec}`);
}

const { source, close } = await openSource();
const forwarder = new Forwarder(source, { connectionString, table, batchSize: 200, retryInitialMs: 10, retryMaxMs: 200 });
if (mode === 'once') {
  const report = await forwarder.runOnce();
  close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  forwarder.start();
  process.stdout.write('ready\n');
  setInterval(() => {
    if (forwarder.error) {
      process.stderr.write(`forwarder stopped: ${forwarder.error.message}\n`);
      process.exit(1);
    }
  }, 20);
}
