/**
 * `redb-audit serve`: a small read-only HTTP endpoint over the store (node:http, no framework):
 *
 *   GET /healthz   the health report as JSON; 200 when healthy or degraded, 503 when unhealthy
 *                  or the store cannot be opened
 *   GET /metrics   Prometheus text format: every shard's counters and gauges, and events per tenant
 *   GET /events    the query flags as parameters (tenant, actor, action, resource-type, resource-id,
 *                  outcome, category, min-severity, from, to, limit, order=asc, cursor); NDJSON,
 *                  one event per line; the next page's cursor in the X-Next-Cursor header
 *
 * It binds 127.0.0.1 unless told otherwise. With --token-file every request needs
 * `Authorization: Bearer <token>` (compared in constant time). The store is opened read-only, so
 * serve runs beside the agent that writes it, and reopened when the snapshot is older than
 * --refresh-ms, so answers follow the writer. SIGTERM or SIGINT stops accepting connections, lets
 * requests in flight finish, closes the store and exits 0.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { NotFoundError, RedbError, ValidationError } from '../../errors.js';
import type { RedbAuditStore } from '../../audit/audit-store.js';
import { T_TENANTS } from '../../audit/tables.js';
import { listTenants } from '../../audit/tenants.js';
import { intArg } from '../args.js';
import { verbAction, type CliContext } from '../context.js';
import { errorLine, exitCodeFor, ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { queryFromParams } from '../query-options.js';

interface ServeOptions {
  port: number;
  host: string;
  tokenFile?: string;
  refreshMs: number;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('HTTP: GET /healthz, /metrics (Prometheus) and /events (NDJSON) over a read-only view of the store')
    .option('--port <N>', 'TCP port (0: any free port, printed at start)', intArg(0, 65535), 7340)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--token-file <path>', 'require Authorization: Bearer <the token in this file> on every request')
    .option('--refresh-ms <ms>', 'reopen the read-only snapshot when it is older than this', intArg(0, 3_600_000), 1000)
    .addHelpText(
      'after',
      '\nExamples:\n  $ redb-audit serve --dir ./audit --port 7340\n  $ curl -s 127.0.0.1:7340/healthz\n' +
        "  $ curl -s '127.0.0.1:7340/events?tenant=acme-health&outcome=failure&limit=50'\n  $ redb-audit serve --dir ./audit --host 0.0.0.0 --token-file /etc/redb-audit/token",
    )
    .action(verbAction((ctx, opts: ServeOptions) => serve(ctx, opts)));
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function readToken(file: string): Buffer {
  if (!fs.existsSync(file)) throw new NotFoundError(`the token file ${file} does not exist`);
  const token = fs.readFileSync(file, 'utf8').trim();
  if (token.length < 16) throw new ValidationError(`the token in ${file} is ${token.length} characters; use at least 16 (for example \`openssl rand -hex 32 > ${file}\`)`);
  return crypto.createHash('sha256').update(token).digest();
}

function authorised(req: http.IncomingMessage, digest: Buffer | null): boolean {
  if (!digest) return true;
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  return crypto.timingSafeEqual(crypto.createHash('sha256').update(m[1]!.trim()).digest(), digest);
}

function send(res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function sendError(res: http.ServerResponse, status: number, err: unknown): void {
  send(res, status, 'application/json', `${JSON.stringify({ error: errorLine(err).replace(/^error: /, ''), code: err instanceof RedbError ? err.code : 'INTERNAL' })}\n`);
}

/** Events per tenant as Prometheus lines. */
function tenantMetrics(store: RedbAuditStore): string {
  const lines = ['# HELP redb_audit_tenant_events Audit events stored per tenant.', '# TYPE redb_audit_tenant_events gauge'];
  for (let i = 0; i < store.manager.shardCount; i++) {
    const snap = store.manager.shardAt(i).read();
    try {
      if (!snap.tableNames().includes(T_TENANTS)) continue;
      for (const [, tenantId] of listTenants(snap.table(T_TENANTS))) {
        lines.push(`redb_audit_tenant_events{tenant=${JSON.stringify(tenantId)},shard="${i}"} ${store.countEvents({ tenantId })}`);
      }
    } finally {
      snap.close();
    }
  }
  return `${lines.join('\n')}\n`;
}

async function serve(ctx: CliContext, opts: ServeOptions): Promise<ExitCodeValue> {
  const digest = opts.tokenFile !== undefined ? readToken(opts.tokenFile) : null;
  if (!LOOPBACK.has(opts.host) && !digest) ctx.warn(`serving on ${opts.host} without --token-file: anyone who can reach it can read every event`);
  // Fail fast on a store that is missing or needs a key, before listening.
  let store: RedbAuditStore | null = await ctx.openAudit('read');
  let openedAt = Date.now();
  const current = async (): Promise<RedbAuditStore> => {
    if (store && Date.now() - openedAt <= opts.refreshMs) return store;
    store?.close();
    store = null;
    store = await ctx.openAudit('read');
    openedAt = Date.now();
    return store;
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        if (!authorised(req, digest)) return send(res, 401, 'application/json', '{"error":"missing or wrong bearer token"}\n', { 'www-authenticate': 'Bearer' });
        if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/json', '{"error":"only GET is supported"}\n', { allow: 'GET' });
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (url.pathname === '/healthz') {
          let s: RedbAuditStore;
          try {
            s = await current();
          } catch (err) {
            return sendError(res, 503, err);
          }
          const report = s.health();
          return send(res, report.status === 'unhealthy' ? 503 : 200, 'application/json', `${JSON.stringify(report)}\n`);
        }
        if (url.pathname === '/metrics') {
          const s = await current();
          return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', `${s.metrics().trimEnd()}\n${tenantMetrics(s)}`);
        }
        if (url.pathname === '/events') {
          let q;
          try {
            q = queryFromParams(url.searchParams);
          } catch (err) {
            return sendError(res, 400, err);
          }
          const s = await current();
          let page;
          try {
            page = s.queryEvents({ ...q, limit: q.limit ?? 100 });
          } catch (err) {
            if (err instanceof ValidationError) return sendError(res, 400, err);
            throw err;
          }
          const body = page.events.map((e) => JSON.stringify(e)).join('\n');
          return send(res, 200, 'application/x-ndjson', body.length ? `${body}\n` : '', page.nextCursor ? { 'x-next-cursor': page.nextCursor } : {});
        }
        return send(res, 404, 'application/json', '{"error":"not found; the endpoints are /healthz, /metrics and /events"}\n');
      } catch (err) {
        if (!res.headersSent) sendError(res, exitCodeFor(err) === ExitCode.Corruption ? 503 : 500, err);
        else res.destroy();
        if (ctx.verbose && err instanceof Error) process.stderr.write(`${err.stack}\n`);
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  ctx.result({ url, dir: ctx.dir, auth: digest !== null }, () => `serving ${ctx.dir} on ${url} (GET /healthz, /metrics, /events); SIGTERM or Ctrl-C stops`);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      server.close(() => resolve());
      server.closeIdleConnections();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  (store as RedbAuditStore | null)?.close();
  ctx.note('stopped; the store is closed');
  return ExitCode.Ok;
}
