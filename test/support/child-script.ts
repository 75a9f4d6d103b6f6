/**
 * How tests start their child processes (the writers they SIGKILL, the lock holders, the live
 * agents): as the JavaScript tsc compiles from src/ and test/ (compiled.mjs), not through tsx.
 *
 * Why: tsx's loader costs every process it starts about half a second and most of a CPU-second
 * before the first line of the script runs, and the suite starts some fifty children (a dozen for
 * the SIGKILL test alone). Compiled, a child is at work in a third of the time. The code is the
 * same: tsc strips the types from the same sources with the project's own tsconfig.json, as it
 * does for dist/, which the CLI tests run. Child stack traces name the compiled files;
 * NODE_OPTIONS=--enable-source-maps maps them back to the TypeScript (tsc writes the maps).
 */
import { compiledPath } from './compiled.mjs';

/**
 * The arguments after process.execPath that run `script` (a .ts file under test/) with `args`:
 * `spawn(process.execPath, childArgs(CHILD, dir))` where a test would have run
 * `node --import tsx CHILD dir`.
 */
export function childArgs(script: string, ...args: string[]): string[] {
  return [compiledPath(script), ...args];
}
