/**
 * `node --import ./test/support/compiled-loader.mjs`: compiles the project if a source changed
 * (compiled.mjs) and registers compiled-hooks.mjs, so that this process runs the checkout's .ts
 * files as tsc compiled them. scripts/test.mjs runs the suite this way instead of through tsx,
 * whose loader cost every test file about half a CPU-second to start; `node --import tsx --test
 * <file>` still runs any one file through tsx.
 */
import { register } from 'node:module';
import { ensureCompiled, OUT, ROOT } from './compiled.mjs';

// Stack traces name the .ts lines (tsc writes the maps), as they did under tsx.
process.setSourceMapsEnabled(true);
ensureCompiled();
register('./compiled-hooks.mjs', import.meta.url, { data: { root: ROOT, out: OUT } });
