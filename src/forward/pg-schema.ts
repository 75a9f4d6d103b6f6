/**
 * The PostgreSQL side of forwarding: the target table (partitioned by month on "timestamp"), its
 * monthly partitions, the cursor table, and the SQL of one batch. The layout is documented column by
 * column in docs/forwarding.md.
 *
 * Invariants:
 * - Every identifier that reaches SQL passed validateTarget() and is double-quoted; every value is a
 *   bind parameter. Nothing from an event is ever spliced into SQL text.
 * - DDL runs under a transaction-scoped advisory lock keyed by the target table, so forwarders of
 *   several stores sharing one database never race on CREATE TABLE IF NOT EXISTS (which is not
 *   atomic against a concurrent creator of the same name).
 * - A partition covers [first instant of a UTC month, first instant of the next); a partition is
 *   created inside the batch transaction that first needs it, so a rolled-back batch leaves no
 *   partition behind that the forwarder believes exists.
 */
import type pg from 'pg';
import { ValidationError } from '../errors.js';
import type { AuditEvent } from '../audit/types.js';

/** Name of the table holding each store's per-shard cursor, in the target table's schema. */
export const CURSOR_TABLE = 'redb_forward_cursors';

/** A validated target: the parent table and where its cursor table lives. */
export interface PgTarget {
  /** Schema name, or undefined for the connection's search_path default. */
  schema: string | undefined;
  /** The parent table's bare name (also the prefix of its partitions' names). */
  table: string;
  /** `"schema"."table"` or `"table"`, ready for SQL. */
  qualified: string;
  /** The cursor table, qualified the same way. */
  cursors: string;
  /** The text stored in the cursor table's target column: `schema.table` or `table`. */
  label: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Partition names append "_p202612" (8 characters) to the table name; PostgreSQL truncates names at 63 bytes.
const MAX_TABLE = 55;

const quote = (ident: string): string => `"${ident}"`;

/** Checks a `--table` value (`table` or `schema.table`, letters, digits and underscores). */
export function validateTarget(name: string): PgTarget {
  const parts = name.split('.');
  const ok = parts.length <= 2 && parts.every((p) => IDENT.test(p)) && parts[parts.length - 1]!.length <= MAX_TABLE && parts[0]!.length <= 63;
  if (!ok) {
    throw new ValidationError(
      `invalid target table name ${JSON.stringify(name)}: use "table" or "schema.table" made of letters, digits and ` +
        `underscores (not starting with a digit), the table name at most ${MAX_TABLE} characters`,
    );
  }
  const table = parts[parts.length - 1]!;
  const schema = parts.length === 2 ? parts[0] : undefined;
  const prefix = schema === undefined ? '' : `${quote(schema)}.`;
  return { schema, table, qualified: prefix + quote(table), cursors: prefix + quote(CURSOR_TABLE), label: name };
}

/** Takes the DDL advisory lock of `target` until the current transaction ends. */
export async function lockDdl(client: pg.ClientBase, target: PgTarget): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`redb-forward:${target.label}`]);
}

/**
 * Creates the parent table, its indexes and the cursor table if missing, and the cursor rows of
 * `shards` shards of store `storeId` (at 0: nothing forwarded) if missing. One transaction.
 */
export async function ensureSchema(client: pg.ClientBase, target: PgTarget, storeId: string, shards: number): Promise<void> {
  await client.query('BEGIN');
  try {
    await lockDdl(client, target);
    if (target.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(target.schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${target.qualified} (
        id            text        NOT NULL,
        "timestamp"   timestamptz NOT NULL,
        tenant_id     text        NOT NULL,
        action        text        NOT NULL,
        actor_id      text        NOT NULL,
        outcome       text        NOT NULL,
        severity      text        NOT NULL,
        category      text        NOT NULL,
        resource_type text        NOT NULL,
        resource_id   text        NOT NULL,
        store_id      text        NOT NULL,
        shard         integer     NOT NULL,
        seq           bigint      NOT NULL,
        event         jsonb       NOT NULL,
        PRIMARY KEY (id, "timestamp")
      ) PARTITION BY RANGE ("timestamp")`,
    );
    await client.query(
      `CREATE INDEX IF NOT EXISTS ${quote(`${target.table}_tenant_ts`)} ON ${target.qualified} (tenant_id, "timestamp")`,
    );
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${target.cursors} (
        store_id   text        NOT NULL,
        target     text        NOT NULL,
        shard      integer     NOT NULL,
        seq        bigint      NOT NULL,
        last_id    text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (store_id, target, shard)
      )`,
    );
    await client.query(
      `INSERT INTO ${target.cursors} (store_id, target, shard, seq)
       SELECT $1, $2, s, 0 FROM generate_series(0, $3::integer - 1) AS s
       ON CONFLICT (store_id, target, shard) DO NOTHING`,
      [storeId, target.label, shards],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** A shard's committed cursor: the last sequence number in the table, and that event's id. */
export interface StoredCursor {
  seq: number;
  lastId: string | null;
}

/** The committed cursor of every shard of `storeId` (index = shard). */
export async function readCursors(client: pg.ClientBase, target: PgTarget, storeId: string, shards: number): Promise<StoredCursor[]> {
  const res = await client.query<{ shard: number; seq: string; last_id: string | null }>(
    `SELECT shard, seq, last_id FROM ${target.cursors} WHERE store_id = $1 AND target = $2`,
    [storeId, target.label],
  );
  const cursors = Array.from({ length: shards }, (): StoredCursor => ({ seq: 0, lastId: null }));
  for (const row of res.rows) if (row.shard < shards) cursors[row.shard] = { seq: Number(row.seq), lastId: row.last_id };
  return cursors;
}

/** A UTC month as a partition: its name suffix and bounds. */
export interface Month {
  /** `YYYYMM`, zero-padded. */
  key: string;
  from: string;
  to: string;
}

/** The month holding epoch-millisecond `ms`. */
export function monthOf(ms: number): Month {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const from = new Date(Date.UTC(y, m, 1));
  const to = new Date(Date.UTC(y, m + 1, 1));
  return { key: `${String(y).padStart(4, '0')}${String(m + 1).padStart(2, '0')}`, from: from.toISOString(), to: to.toISOString() };
}

/** Creates the partitions of `months` not in `known` (inside the caller's transaction). */
export async function createPartitions(client: pg.ClientBase, target: PgTarget, months: Month[]): Promise<void> {
  if (months.length === 0) return;
  await lockDdl(client, target);
  const prefix = target.schema === undefined ? '' : `${quote(target.schema)}.`;
  for (const month of months) {
    // Bounds are ISO strings computed above, but go through literals: DDL takes no bind parameters.
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${prefix}${quote(`${target.table}_p${month.key}`)} PARTITION OF ${target.qualified}
       FOR VALUES FROM ('${month.from}') TO ('${month.to}')`,
    );
  }
}

/**
 * Inserts a batch with one statement whose main parameter is the batch as one JSON array: the client
 * only joins the events' JSON texts (no per-field array encoding and escaping), and PostgreSQL, which
 * parses every event into jsonb anyway, takes the columns from it. Sequence numbers travel as a
 * bigint array matched by position. Duplicates of (id, "timestamp") are skipped. Returns the rows
 * actually inserted.
 */
export async function insertBatch(client: pg.ClientBase, target: PgTarget, storeId: string, shard: number, changes: readonly { seq: number; event: AuditEvent; json?: string }[]): Promise<number> {
  const json = `[${changes.map((c) => c.json ?? JSON.stringify(c.event)).join(',')}]`;
  const seqs = changes.map((c) => c.seq);
  const res = await client.query(
    `INSERT INTO ${target.qualified}
       (id, "timestamp", tenant_id, action, actor_id, outcome, severity, category, resource_type, resource_id, seq, event, store_id, shard)
     SELECT x.e->>'id', timestamptz 'epoch' + (x.e->>'timestamp')::bigint * interval '1 millisecond', x.e->>'tenantId',
            x.e->>'action', x.e->'actor'->>'id', x.e->>'outcome', x.e->>'severity', x.e->>'category',
            x.e->'resource'->>'type', x.e->'resource'->>'id', ($2::bigint[])[x.i], x.e, $3, $4
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, i)
     ON CONFLICT (id, "timestamp") DO NOTHING`,
    [json, seqs, storeId, shard],
  );
  return res.rowCount ?? 0;
}

/**
 * Moves the cursor of one shard from `from` to `to` (whose event is `lastId`). Returns false when the
 * stored cursor was not `from`: another forwarder of the same store and target moved it, and this
 * batch must roll back.
 */
export async function advanceCursor(client: pg.ClientBase, target: PgTarget, storeId: string, shard: number, from: number, to: number, lastId: string): Promise<boolean> {
  const res = await client.query(
    `UPDATE ${target.cursors} SET seq = $5, last_id = $6, updated_at = now() WHERE store_id = $1 AND target = $2 AND shard = $3 AND seq = $4`,
    [storeId, target.label, shard, from, to, lastId],
  );
  return res.rowCount === 1;
}
