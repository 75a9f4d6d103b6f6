/**
 * `redb-audit purge-expired`: deletes events older than retention policies allow, with their index
 * entries; tenants under legal hold are skipped and reported. Policies come from --policy flags
 * (tenant=days or tenant/category=days) or a JSON file of RetentionPolicy objects. The purge is
 * itself recorded as an event of the system tenant. Takes the writer lock.
 */
import fs from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { RetentionPolicy } from '../../audit/types.js';
import { verbAction, type CliContext } from '../context.js';

interface PurgeOptions {
  policy: RetentionPolicy[];
  policiesFile?: string;
}

function policyArg(value: string, previous: RetentionPolicy[]): RetentionPolicy[] {
  const m = /^([^=/]+)(?:\/([^=]+))?=(\d+)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected tenant=days or tenant/category=days, got "${value}"`);
  const p: RetentionPolicy = { tenantId: m[1]!, maxAgeDays: Number(m[3]) };
  if (m[2] !== undefined) p.category = m[2];
  return [...previous, p];
}

export function register(program: Command): void {
  program
    .command('purge-expired')
    .description('delete events older than the retention policies allow (takes the writer lock)')
    .option('--policy <tenant=days>', 'keep this tenant\'s events (of one category with tenant/category=days) for this many days; repeatable', policyArg, [])
    .option('--policies-file <file>', 'JSON array of { tenantId, category?, maxAgeDays }')
    .addHelpText('after', '\nExamples:\n  $ redb-audit purge-expired --dir ./audit --policy acme-health=2555 --policy stark-cloud/authentication=90\n  $ redb-audit purge-expired --dir ./audit --policies-file retention.json --json')
    .action(verbAction((ctx, opts: PurgeOptions) => purge(ctx, opts)));
}

async function purge(ctx: CliContext, opts: PurgeOptions): Promise<void> {
  const policies = [...opts.policy];
  if (opts.policiesFile !== undefined) {
    if (!fs.existsSync(opts.policiesFile)) throw new NotFoundError(`the policies file ${opts.policiesFile} does not exist`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(opts.policiesFile, 'utf8'));
    } catch (err) {
      throw new ValidationError(`${opts.policiesFile} is not valid JSON (${(err as Error).message}); it must be an array of { tenantId, category?, maxAgeDays }`);
    }
    if (!Array.isArray(parsed)) throw new ValidationError(`${opts.policiesFile} must hold a JSON array of { tenantId, category?, maxAgeDays }`);
    policies.push(...(parsed as RetentionPolicy[]));
  }
  if (policies.length === 0) throw new ValidationError('give at least one retention policy: --policy tenant=days or --policies-file <file>');
  const store = await ctx.openAudit('write');
  try {
    const r = store.purgeExpired({ policies });
    ctx.result(r, () => [
      `purged ${r.purged} event(s)${r.perTenant.length ? `: ${r.perTenant.map((t) => `${t.tenantId} ${t.purged}`).join(', ')}` : ''}`,
      ...(r.heldTenants.length ? [`skipped (legal hold): ${r.heldTenants.join(', ')}`] : []),
    ]);
  } finally {
    store.close();
  }
}
