/**
 * Child process for lock tests: opens the database (argv[3] "db", the default) or the whole store
 * (argv[3] "manager") at argv[2], says "ready", and waits to be told to stop or killed.
 */
import { Database, RedbManager } from '../../src/index.js';

const closeable = process.argv[3] === 'manager' ? RedbManager.open({ baseDir: process.argv[2]! }) : Database.open(process.argv[2]!);
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  closeable.close();
  process.exit(0);
});
setInterval(() => {}, 1000);
