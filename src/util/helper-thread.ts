/**
 * A helper thread that talks to its starter over a MessagePort, for work the committing thread
 * hands off and reads back synchronously (`receiveMessageOnPort`): the prefault thread
 * (prefaulted-memory.ts) and the memtable's merging thread (shard/data/background-merge.ts).
 *
 * The thread holds no event loop open, and its failure is never an unhandled 'error' event: a
 * thread that dies only leaves its work to the caller, which must never depend on an answer.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';

/**
 * Starts a thread running `source` (script source text, as `new Worker(..., { eval: true })` takes
 * it), whose `workerData` is `data` plus `port`, the thread's end of the channel. Returns this
 * thread's end, or null when threads cannot start (a permission model without --allow-worker, a
 * thread limit): then the caller does the work itself.
 */
export function startHelperThread(source: string, data: Record<string, unknown>): MessagePort | null {
  const { port1, port2 } = new MessageChannel();
  try {
    const worker = new Worker(source, {
      eval: true,
      workerData: { ...data, port: port2 },
      transferList: [port2],
      stdout: false,
      stderr: false,
    });
    worker.unref();
    worker.on('error', () => {});
  } catch {
    port1.close();
    return null;
  }
  port1.unref();
  return port1;
}
