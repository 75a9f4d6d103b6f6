// The engine processes a benchmark runner has running, each with its temp dir: on Ctrl-C or kill
// the runner stops them and removes their dirs (a full load leaves hundreds of MB) instead of
// leaving both behind.

import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/** Children now running, with the directory each writes in. */
export const liveChildren = new Map<ChildProcess, string>();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const [child, dir] of liveChildren) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
    process.exit(130);
  });
}
