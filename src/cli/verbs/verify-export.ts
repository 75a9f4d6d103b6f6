/**
 * `redb-audit verify-export <file> --vkey <vkey>`: checks a proof bundle (export --with-proofs)
 * offline, with nothing but the log's verifier key: every checkpoint signature, every event's
 * inclusion proof, and the order and completeness of the lines against the trailer. Needs no
 * store. Exit 0 when the bundle is intact, 2 when any line was edited, dropped, inserted or
 * reordered, or a signature fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { NotFoundError } from '../../errors.js';
import { verifyExport } from '../../integrity/proof-bundle.js';
import { verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';

interface VerifyExportOptions {
  vkey: string;
}

export function register(program: Command): void {
  program
    .command('verify-export <file>')
    .description('check a proof bundle offline against the log\'s verifier key: 0 intact, 2 tampered')
    .requiredOption('--vkey <vkey>', 'the signed-note verifier key (name+keyid+key), or a file holding it')
    .addHelpText('after', "\nExamples:\n  $ redb-audit verify-export bundle.ndjson --vkey 'redb-audit/1a2b3c4d+1a2b3c4d+AbCd...'\n  $ redb-audit verify-export bundle.ndjson --vkey audit.vkey --json")
    .action(verbAction((ctx, file: string, opts: VerifyExportOptions) => verifyBundle(ctx, file, opts)));
}

function verifyBundle(ctx: CliContext, file: string, opts: VerifyExportOptions): ExitCodeValue {
  const bundle = path.resolve(file);
  if (!fs.existsSync(bundle)) throw new NotFoundError(`${bundle} does not exist; name a file written by \`redb-audit export --with-proofs\``);
  // A vkey never contains a path separator and has '+' in it; anything else names a file.
  const vkey = !opts.vkey.includes('+') && fs.existsSync(opts.vkey) ? fs.readFileSync(opts.vkey, 'utf8').trim() : opts.vkey.trim();
  const r = verifyExport(fs.readFileSync(bundle, 'utf8'), { vkey });
  ctx.result({ file: bundle, ...r }, () => [
    `${bundle}: ${r.ok ? 'intact' : 'TAMPERED'}: ${r.verified} of ${r.events} event(s) proven against ${r.checkpoints.length} signed checkpoint(s)`,
    ...r.issues.slice(0, 50).map((i) => `  line ${i.line}: ${i.kind}: ${i.message}`),
    ...(r.issues.length > 50 ? [`  ... and ${r.issues.length - 50} more (--json lists them all)`] : []),
  ]);
  return r.ok ? ExitCode.Ok : ExitCode.Corruption;
}
