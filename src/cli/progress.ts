/**
 * Progress for long verbs (ingest, export): a cli-progress bar on stderr when stderr is a terminal
 * and neither --json nor --quiet is given, showing the rate, the count and, when the total is known,
 * the percentage and ETA. Otherwise it draws nothing; the verb prints its one-line summary.
 */
import cliProgress from 'cli-progress';
import type { CliContext } from './context.js';

export interface Progress {
  /** Sets the position (in the total's unit) and the number of items done. */
  update(position: number, items: number): void;
  stop(): void;
}

const SILENT: Progress = { update: () => undefined, stop: () => undefined };

/**
 * A progress display. `total` is known for files (bytes) and unknown for stdin (null): then only
 * the count and the rate are shown.
 */
export function startProgress(ctx: CliContext, label: string, unit: string, total: number | null): Progress {
  if (!ctx.interactive) return SILENT;
  const started = performance.now();
  const format =
    total !== null
      ? `${label} [{bar}] {percentage}% | {items} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`
      : `${label} {items} ${unit} | {rate} ${unit}/s | {duration_formatted}`;
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 50, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total ?? 1, 0, { items: 0, rate: 0 });
  return {
    update(position, items) {
      const seconds = (performance.now() - started) / 1000;
      bar.update(total !== null ? Math.min(position, total) : 0, { items, rate: seconds > 0 ? Math.round(items / seconds) : 0 });
    },
    stop() {
      bar.stop();
    },
  };
}
