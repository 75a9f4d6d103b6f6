/**
 * `redb-audit init`: creates a store. The shard count, encryption and compression chosen here are
 * recorded in the store's manifest and read back by every other verb. The store is created through
 * the audit layer, so its integrity keys exist before any reader opens it. Refuses a directory that
 * already holds a store, so an init can never reshape or wipe one.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { EncryptionKeyError, ValidationError } from '../../errors.js';
import type { CompressionKind } from '../../codec/compression.js';
import { MANIFEST_NAME } from '../../manager/manifest.js';
import { RedbAuditStore } from '../../audit/audit-store.js';
import { choiceArg, intArg } from '../args.js';
import { CLI_SETTINGS, ENV_KEY, verbAction, type CliContext } from '../context.js';
import { writeFileAtomic } from '../../io/durable-file.js';
import path from 'node:path';

interface InitOptions {
  shards: number;
  encrypt?: boolean;
  compression: CompressionKind;
  personalData?: boolean;
}

export function register(program: Command): void {
  program
    .command('init')
    .description('create a new store in --dir')
    .option('--shards <N>', 'number of shards, 1 to 256 (fixed for the life of the store)', intArg(1, 256), 1)
    .option('--encrypt', `encrypt everything at rest with AES-256-GCM under --key-file or $${ENV_KEY}`)
    .option('--compression <kind>', 'zstd, lz4 or none', choiceArg<CompressionKind>(['zstd', 'lz4', 'none']), 'zstd')
    .option('--personal-data', 'seal personal-data fields (actor.name, sourceIp, userAgent) under per-subject keys, so erase-subject can erase them')
    .addHelpText('after', '\nExamples:\n  $ redb-audit init --dir ./audit --shards 4\n  $ openssl rand -hex 32 > audit.key && redb-audit init --dir ./audit --encrypt --key-file audit.key')
    .action(verbAction((ctx, opts: InitOptions) => init(ctx, opts)));
}

async function init(ctx: CliContext, opts: InitOptions): Promise<void> {
  if (fs.existsSync(`${ctx.dir}/${MANIFEST_NAME}`)) throw new ValidationError(`${ctx.dir} already holds a store; choose another --dir (init never changes an existing store)`);
  if (fs.existsSync(ctx.dir) && fs.readdirSync(ctx.dir).length > 0) throw new ValidationError(`${ctx.dir} is not empty; init creates a store only in a new or empty directory`);
  const key = ctx.keySource();
  if (opts.encrypt && !key) throw new EncryptionKeyError(`--encrypt needs a key: pass --key-file <path> or set $${ENV_KEY} (create one with \`openssl rand -hex 32 > audit.key\`)`);
  if (!opts.encrypt && ctx.keyFile !== undefined) throw new ValidationError('--key-file was given without --encrypt; add --encrypt to create an encrypted store');
  // Opened as an audit store, so everything it keeps beside the shards (the checkpoint signing key)
  // exists from the start and read-only opens find it.
  const store = await RedbAuditStore.open({
    baseDir: ctx.dir,
    shardingEnabled: opts.shards > 1,
    shardCount: opts.shards,
    compression: opts.compression,
    ...(opts.encrypt ? { encryptionEnabled: true, encryptionKey: key! } : {}),
    ...(opts.personalData ? { personalData: { enabled: true } } : {}),
  });
  if (opts.personalData) writeFileAtomic(path.join(ctx.dir, CLI_SETTINGS), Buffer.from(`${JSON.stringify({ personalData: true })}\n`));
  store.close();
  const summary = { dir: ctx.dir, shards: opts.shards, encrypted: opts.encrypt === true, compression: opts.compression, personalData: opts.personalData === true };
  ctx.result(summary, () => [
    `created a store in ${ctx.dir}: ${opts.shards} shard(s), ${opts.compression} compression${opts.encrypt ? ', encrypted' : ''}${opts.personalData ? ', personal data sealed per subject' : ''}`,
    `next: redb-audit ingest events.ndjson --dir ${ctx.dir}`,
  ]);
}
