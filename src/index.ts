/**
 * redb-audit: an embedded, crash-safe, copy-on-write key-value storage engine for Node.js.
 *
 * ```ts
 * import { Database } from 'redb-audit';
 * const db = Database.open('./data');
 * db.write((tx) => tx.put(key, value));
 * const value = db.get(key);
 * db.close();
 * ```
 */
export { Database } from './shard/database.js';
export type { DatabaseOptions, Durability, EncryptionOptions } from './shard/options.js';
export type { KeySource } from './codec/key-source.js';
export type { CompressionKind } from './codec/compression.js';
export type { SnapshotInfo, SnapshotReport } from './shard/maintenance/snapshot-copy.js';
export { WriteTxn, TxTable } from './shard/txn/write-txn.js';
export { Snapshot, SnapshotTable } from './shard/snapshot.js';
export { Table } from './shard/table.js';
export type { Entry } from './shard/data/tree-read.js';
export type { RangeOptions } from './shard/validate.js';
export { MAX_KEY_SIZE, MAX_VALUE_SIZE, DEFAULT_TABLE } from './shard/validate.js';
export type { CheckpointInfo } from './shard/durability/checkpoint.js';
export type { CompactInfo } from './shard/maintenance/compact.js';
export type { VerifyReport, VerifyIssue } from './shard/maintenance/verify.js';
export type { DatabaseStats, StatsOptions } from './shard/stats.js';
export type { RecoveryReport, TxnRange } from './shard/durability/open-shard.js';
export {
  RedbError,
  ErrorCode,
  type ErrorCodeValue,
  ValidationError,
  CorruptionError,
  ClosedError,
  TransactionClosedError,
  IoError,
  DiskFullError,
  LockedError,
  type LockedReason,
  ReadOnlyError,
  AccessDeniedError,
  EncryptionKeyError,
  FormatError,
  NotFoundError,
  ForwardError,
  type ForwardFailure,
} from './errors.js';
export { RedbManager, type BatchOp, type BatchResult, type OpenReport } from './manager/redb-manager.js';
export { initRedbManager, getRedbManager, closeRedbManager } from './manager/singleton.js';
export type { RedbOptions } from './manager/options.js';
export type { HealthReport, HealthStatus, ShardHealth, VerifyRecord } from './manager/health.js';
export type { LossRecord } from './manager/loss-history.js';
export type { BackupOptions, BackupReport, BackupShardReport } from './backup/backup.js';
export type { BackupVerifyReport } from './backup/backup-verify.js';
export type { RestoreOptions, RestoreReport } from './backup/restore.js';
export { BackupCorruptionError } from './backup/backup-error.js';
export type { ShardRepairReport, LostRange } from './shard/maintenance/repair.js';
export { listBackups, cleanupBackups, type BackupEntry, type BackupList, type BackupCleanupReport, type UnreadableBackup } from './backup/backup-catalog.js';
export { PartialCommitError } from './errors.js';
export type { FileIO, FileHandle, OpenMode, PendingDatasync } from './io/file-io.js';
export { NodeFileIO } from './io/node-file-io.js';
export { RedbAuditStore, initAuditRedb, type AuditStore } from './audit/audit-store.js';
export { createAuditEvent } from './audit/event-model.js';
export { FeedPositionError, type ChangeEntry, type ChangesOptions } from './audit/feed.js';
export type { InsertHook, TenantInserted } from './audit/insert.js';
export type { BatchRecovery } from './audit/cross-shard.js';
export {
  SEVERITIES,
  OUTCOMES,
  SYSTEM_TENANT,
  type Outcome,
  type Severity,
  type AuditActor,
  type AuditResource,
  type JsonValue,
  type AuditEvent,
  type AuditEventInput,
  type AuditQuery,
  type QueryResult,
  type QueryPlan,
  type InsertReport,
  type ExportFormat,
  type ExportOptions,
  type ExportReport,
  type RetentionPolicy,
  type PurgeReport,
  type AuditOptions,
  type AuditStoreOptions,
} from './audit/types.js';
export type { ConsistencyReport } from './audit/consistency.js';
export { verifyExport, type ExportVerifyReport, type BundleIssue } from './integrity/proof-bundle.js';
export type { IntegrityOptions } from './integrity/integrity-options.js';
export type { PersonalDataOptions } from './integrity/personal-data.js';
export type { Checkpoint, InclusionProof } from './integrity/integrity-service.js';
export type { CheckpointPublicKey } from './integrity/checkpoint-signer.js';
export type { TenantVerifyReport, IntegrityIssue } from './integrity/verify-log.js';
export type { HealthSource, ComponentHealth, AuditHealthReport } from './audit/health-sources.js';
export {
  Forwarder,
  type ForwarderOptions,
  type ForwardReport,
  type ForwarderHealth,
  type ChangeFeedSource,
  type FeedChange,
} from './forward/forwarder.js';
export type { ShardLag } from './forward/lag.js';
