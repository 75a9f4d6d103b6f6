/**
 * The store's loss history, `<baseDir>/redb.losses.json`: every repair that could not bring back
 * everything (lost commits, key ranges or values) appends a record, and the record stays there
 * forever. health() reports a shard degraded while any of its records is unacknowledged; an operator
 * acknowledges them with RedbManager.acknowledgeLoss(). Acknowledging marks records, never deletes
 * them, and a later clean repair does not touch them: the history of what was lost survives reopens.
 *
 * Invariants: the file is replaced atomically (temporary file, fsync, rename, directory fsync), so a
 * crash leaves the old history or the new one. A history that cannot be read is never taken for an
 * empty one: it is set aside as `redb.losses.json.unreadable-<time>` before a new one is written, and
 * health() reports it until the store is reopened with a readable history.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ioError } from '../errors.js';
import type { TxnRange } from '../shard/durability/open-shard.js';
import type { ShardRepairReport } from '../shard/maintenance/repair.js';
import { writeFileAtomic } from '../io/durable-file.js';

export const LOSS_HISTORY_NAME = 'redb.losses.json';
const FORMAT = 'redb-audit-losses';

/** One repair that lost data, as kept in the loss history. */
export interface LossRecord {
  /** 1, 2, ... in the order the losses happened. */
  id: number;
  shard: number;
  /** When the repair ran (ISO 8601). */
  at: string;
  /** 'open': autoRecovery repaired the shard while opening the store; 'repair': RedbManager.repair(). */
  during: 'open' | 'repair';
  /** Acknowledged commits that could not be brought back, and their txn ids. */
  lostCommits: number;
  lostTxns: TxnRange | null;
  /** Key ranges and values of the page file that could not be recovered. */
  lostRanges: number;
  lostValues: number;
  /** Why the WAL could not be replayed further, if that was part of the loss. */
  walDamage: string | null;
  /** Where the damaged files were kept. */
  damagedDir: string | null;
  /** When an operator acknowledged the loss (null: not yet; health() reports it). */
  acknowledgedAt: string | null;
}

interface HistoryFile {
  format: typeof FORMAT;
  version: 1;
  records: LossRecord[];
}

export class LossHistory {
  private constructor(
    private readonly file: string,
    private records: LossRecord[],
    /** Why the history on disk could not be read, or null. */
    readonly unreadable: string | null,
  ) {}

  /** Loads the history of the store in `baseDir` (empty when there is none yet). */
  static load(baseDir: string): LossHistory {
    const file = path.join(baseDir, LOSS_HISTORY_NAME);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new LossHistory(file, [], null);
      throw ioError('read', file, err);
    }
    const records = parse(text);
    if (typeof records === 'string') return new LossHistory(file, [], `${file} cannot be read (${records}); earlier losses may not be listed`);
    return new LossHistory(file, records, null);
  }

  /** Every record, oldest first (copies). */
  all(): LossRecord[] {
    return this.records.map((r) => ({ ...r, lostTxns: r.lostTxns && { ...r.lostTxns } }));
  }

  /** Records of `shard` nobody has acknowledged yet. */
  unacknowledged(shard: number): LossRecord[] {
    return this.records.filter((r) => r.shard === shard && r.acknowledgedAt === null);
  }

  /** Appends a record for a repair that lost something; returns it, or null when nothing was lost. */
  recordRepair(shard: number, report: ShardRepairReport, during: LossRecord['during']): LossRecord | null {
    if (report.status !== 'repaired') return null;
    if (report.lostCommits === 0 && report.lostRanges.length === 0 && report.lostValues.length === 0) return null;
    const record: LossRecord = {
      id: (this.records[this.records.length - 1]?.id ?? 0) + 1,
      shard,
      at: new Date().toISOString(),
      during,
      lostCommits: report.lostCommits,
      lostTxns: report.lostTxns && { ...report.lostTxns },
      lostRanges: report.lostRanges.length,
      lostValues: report.lostValues.length,
      walDamage: report.walDamage,
      damagedDir: report.damagedDir,
      acknowledgedAt: null,
    };
    this.save([...this.records, record]);
    return record;
  }

  /** Marks the unacknowledged records (of one shard, or all) acknowledged; returns how many. */
  acknowledge(shard?: number): number {
    const now = new Date().toISOString();
    let n = 0;
    const next = this.records.map((r) => {
      if (r.acknowledgedAt !== null || (shard !== undefined && r.shard !== shard)) return r;
      n++;
      return { ...r, acknowledgedAt: now };
    });
    if (n > 0) this.save(next);
    return n;
  }

  private save(records: LossRecord[]): void {
    if (this.unreadable && fs.existsSync(this.file)) {
      const aside = `${this.file}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      try {
        fs.renameSync(this.file, aside);
      } catch (err) {
        throw ioError('rename', this.file, err);
      }
    }
    const body: HistoryFile = { format: FORMAT, version: 1, records };
    writeFileAtomic(this.file, Buffer.from(`${JSON.stringify(body, null, 2)}\n`));
    this.records = records;
  }
}

function parse(text: string): LossRecord[] | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  const b = body as Partial<HistoryFile>;
  if (typeof b !== 'object' || b === null || b.format !== FORMAT) return `not a ${FORMAT} file`;
  if (b.version !== 1) return `version ${String(b.version)} is not supported`;
  if (!Array.isArray(b.records)) return 'records is not an array';
  for (const r of b.records) {
    if (typeof r !== 'object' || r === null || !Number.isInteger(r.id) || !Number.isInteger(r.shard) || !Number.isInteger(r.lostCommits) || typeof r.at !== 'string') {
      return 'a record is malformed';
    }
  }
  return b.records;
}
