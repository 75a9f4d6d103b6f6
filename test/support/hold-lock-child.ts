/** Child process for lock tests: opens the database given as argv[2], says "ready", and waits. */
import { Database } from '../../src/index.js';

const db = Database.open(process.argv[2]!);
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  db.close();
  process.exit(0);
});
setInterval(() => {}, 1000);
