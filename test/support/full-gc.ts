/**
 * A full garbage collection from inside a test, without starting node with --expose-gc: the flag is
 * set at run time and `gc` taken from a fresh context, where V8 then defines it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects until the finalizers and weak references of the dropped objects have settled. */
export async function fullGc(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    // WeakRefs are cleared only after the job that created or dereferenced them has finished.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
