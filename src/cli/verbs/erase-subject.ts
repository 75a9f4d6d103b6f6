/**
 * `redb-audit erase-subject <actorId>`: the right to erasure. Destroys the keys that seal the
 * subject's personal data in every tenant; their events stay, with hashes and proofs intact, and
 * their personal-data fields read back as null with `erased: true`. Recorded in the system tenant.
 * Needs a store created with `init --personal-data`. Takes the writer lock.
 */
import type { Command } from 'commander';
import { ValidationError } from '../../errors.js';
import { readCliSettings, verbAction, type CliContext } from '../context.js';

export function register(program: Command): void {
  program
    .command('erase-subject <actorId>')
    .description("erase a subject's personal data in every tenant (events and proofs stay) (takes the writer lock)")
    .addHelpText('after', '\nExample:\n  $ redb-audit erase-subject user-42@acme-health.example --dir ./audit')
    .action(verbAction((ctx, actorId: string) => erase(ctx, actorId)));
}

async function erase(ctx: CliContext, actorId: string): Promise<void> {
  if (!readCliSettings(ctx.dir).personalData) {
    throw new ValidationError(`the store in ${ctx.dir} does not seal personal data (it was created without \`redb-audit init --personal-data\`), so there is nothing to erase by key; its events can only be purged`);
  }
  const store = await ctx.openAudit('write');
  try {
    const r = store.eraseSubject(actorId);
    ctx.result(r, () =>
      r.tenants.length === 0
        ? `no personal data of ${actorId} was found in any tenant; nothing to erase (the request is recorded)`
        : `erased the personal data of ${actorId} in ${r.tenants.length} tenant(s): ${r.tenants.join(', ')}; their events and proofs remain`,
    );
  } finally {
    store.close();
  }
}
