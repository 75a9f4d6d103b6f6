/**
 * `redb-audit rotate-key --new-key-file <path>`: moves an encrypted store to a new key. New writes
 * use the new key at once (Database.rotateKey), then every block is rewritten under it and the old
 * key retired (rekey), so afterwards only the new key opens the store. Backups taken before keep
 * needing the key they were written with. Needs the current key (--key-file or $REDB_AUDIT_KEY).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { NotFoundError } from '../../errors.js';
import { verbAction, type CliContext } from '../context.js';
import { ms } from '../render.js';

interface RotateOptions {
  newKeyFile: string;
}

export function register(program: Command): void {
  program
    .command('rotate-key')
    .description('re-encrypt the store under a new key and retire the old one (takes the writer lock)')
    .requiredOption('--new-key-file <path>', 'file holding the new 32-byte key (64 hex digits or base64)')
    .addHelpText('after', '\nExample:\n  $ openssl rand -hex 32 > new.key\n  $ redb-audit rotate-key --dir ./audit --key-file old.key --new-key-file new.key')
    .action(verbAction((ctx, opts: RotateOptions) => rotate(ctx, opts)));
}

async function rotate(ctx: CliContext, opts: RotateOptions): Promise<void> {
  const file = path.resolve(opts.newKeyFile);
  if (!fs.existsSync(file)) throw new NotFoundError(`the new key file ${file} does not exist; create one with \`openssl rand -hex 32 > ${opts.newKeyFile}\``);
  const started = performance.now();
  // Through the audit store, so the rotation is recorded as an operation of the system tenant.
  const store = await ctx.openAudit('write');
  try {
    store.rotateKey({ file });
    store.manager.rekey();
  } finally {
    store.close();
  }
  const durationMs = performance.now() - started;
  ctx.result({ dir: ctx.dir, newKeyFile: file, durationMs }, () => [
    `the store in ${ctx.dir} is now encrypted under ${file} only (${ms(durationMs)})`,
    `from now on pass --key-file ${opts.newKeyFile}; keep the old key for backups taken before now`,
  ]);
}
