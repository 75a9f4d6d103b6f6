/**
 * Worker-thread entry of the corruption suite: runs each job of trials (corruption-harness.ts) the
 * parent sends, one at a time, until the parent terminates it, and posts a message before every
 * trial, so that the parent's watchdog can tell a slow machine from a hung read and name the trial
 * that hung.
 */
import { parentPort } from 'node:worker_threads';
import { runJob, type Job } from './corruption-harness.js';

const port = parentPort;
if (!port) throw new Error('corruption-worker.ts must run in a worker thread');
port.on('message', (job: Job) => {
  void (async () => {
    try {
      const result = await runJob(job, (label) => port.postMessage({ type: 'trial', label }));
      port.postMessage({ type: 'done', result });
    } catch (err) {
      port.postMessage({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  })();
});
