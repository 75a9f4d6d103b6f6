/**
 * The error a restore (or an incremental backup on a bad base) throws when a backup fails
 * verification. It carries the code of a corruption (`REDB_CORRUPTION`) and every issue found, so an
 * operator sees at once which file is damaged or which base is missing.
 */
import { ErrorCode, RedbError } from '../errors.js';

export class BackupCorruptionError extends RedbError {
  /** The backup directory that failed. */
  readonly dir: string;
  /** What verifyBackup found, one line each. */
  readonly issues: string[];

  constructor(dir: string, issues: string[], what = 'nothing was restored') {
    const shown = issues.slice(0, 3).join('; ');
    super(
      ErrorCode.Corruption,
      `the backup in ${dir} failed verification (${issues.length} issue${issues.length === 1 ? '' : 's'}: ${shown}` +
        `${issues.length > 3 ? '; ...' : ''}), so ${what}. Bring back the damaged or missing files (an incremental ` +
        'backup needs every base it names, unchanged) or use another backup; RedbManager.verifyBackup lists every issue',
    );
    this.dir = dir;
    this.issues = issues;
  }
}
