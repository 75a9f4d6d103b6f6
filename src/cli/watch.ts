/**
 * --watch for stats and health: runs a report every interval until SIGINT or SIGTERM, then exits
 * with the last report's code. Each round opens and closes the store, so the watcher never holds it
 * between rounds.
 */
import type { ExitCodeValue } from './exit-codes.js';

export async function watchLoop(intervalMs: number, round: () => ExitCodeValue | Promise<ExitCodeValue>): Promise<ExitCodeValue> {
  let code = await round();
  let stop = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | null = null;
  const onSignal = (): void => {
    stop = true;
    clearTimeout(timer);
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, intervalMs);
      });
      if (!stop) code = await round();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return code;
}
