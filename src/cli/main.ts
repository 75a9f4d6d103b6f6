#!/usr/bin/env node
/**
 * The `redb-audit` executable (package.json "bin"). Everything happens in program.ts; this file only
 * finds the package version and turns an error that escaped every verb into exit code 70.
 */
import fs from 'node:fs';
import { runCli } from './program.js';
import { reportError } from './context.js';

const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

runCli(process.argv.slice(2), pkg.version).catch((err: unknown) => {
  reportError(err, process.argv.includes('--verbose'));
});
