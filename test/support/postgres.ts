/**
 * A throwaway PostgreSQL server for tests: initdb into a fresh temp dir, listen on 127.0.0.1 on a free
 * port (plus a Unix socket inside the temp dir), stop and delete everything afterwards.
 *
 * Invariants:
 * - The binaries come from the system package (/usr/lib/postgresql/<version>/bin, newest version
 *   first, or REDB_PG_BIN). Without them `postgresSkipReason` says so and the tests skip; nothing
 *   is ever mocked.
 * - initdb refuses to run as root, so as root every server command runs as the unprivileged user
 *   `redbtest`, created here idempotently on first use (CI machines are fresh); the temp dir is
 *   chowned to it.
 * - A server started here never outlives the test process: stop() shuts it down with
 *   `pg_ctl stop -m fast`, and an exit hook sends the postmaster SIGQUIT (immediate shutdown) and
 *   removes the dir if a test forgot to or the process is dying.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const TEST_USER = 'redbtest';

/** The directory holding initdb, pg_ctl and postgres, or null when PostgreSQL is not installed. */
export function postgresBinDir(): string | null {
  const fromEnv = process.env.REDB_PG_BIN;
  if (fromEnv && fs.existsSync(path.join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')) && fs.existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions.length ? path.join(root, versions[0]!, 'bin') : null;
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. Pass as `{ skip }` to test(). */
export const postgresSkipReason: string | undefined = postgresBinDir()
  ? undefined
  : 'no PostgreSQL server binaries found (looked for /usr/lib/postgresql/*/bin/initdb and $REDB_PG_BIN); ' +
    'install the postgresql package (apt-get install postgresql) to run the forwarder tests';

interface RunAs {
  uid: number;
  gid: number;
}

/** The uid/gid to run server commands as: ourselves, or the `redbtest` user when we are root. */
function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let entry = findPasswd(TEST_USER);
  if (!entry) {
    // Two test files may race to create the user; "already exists" (exit 9) is success.
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', TEST_USER], { stdio: 'pipe' });
    entry = findPasswd(TEST_USER);
    if (!entry) throw new Error(`could not create the unprivileged user ${TEST_USER} (useradd exit ${r.status}: ${r.stderr})`);
  }
  return entry;
}

function findPasswd(user: string): RunAs | undefined {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** Whether every directory from / down to `dir` lets other users through (the server's user must reach its data). */
function traversableByAll(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/** A port nobody listens on right now (the kernel picks it; a small race is handled by retrying). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set<PgServer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const server of live) server.killNow();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const server of live) server.killNow();
      process.kill(process.pid, signal);
    });
  }
}

/** One running throwaway server. */
export class PgServer {
  readonly host = '127.0.0.1';
  readonly user = 'postgres';
  readonly database = 'postgres';

  private constructor(
    public port: number,
    readonly dir: string,
    private readonly bin: string,
    private readonly as: RunAs | undefined,
  ) {}

  /** `postgresql://postgres@127.0.0.1:<port>/postgres` (trust authentication on loopback). */
  get connectionString(): string {
    return `postgresql://${this.user}@${this.host}:${this.port}/${this.database}`;
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private get socketDir(): string {
    return path.join(this.dir, 'sock');
  }

  /** initdb + start. The caller must call destroy() (an exit hook is the last resort). */
  static async create(): Promise<PgServer> {
    const bin = postgresBinDir();
    if (!bin) throw new Error(postgresSkipReason);
    const as = runAs();
    const dir = fs.mkdtempSync(path.join(as && !traversableByAll(os.tmpdir()) ? '/tmp' : os.tmpdir(), 'redb-pg-'));
    fs.mkdirSync(path.join(dir, 'sock'));
    if (as) for (const p of [dir, path.join(dir, 'sock')]) fs.chownSync(p, as.uid, as.gid);
    installExitHook();
    let server: PgServer | undefined;
    try {
      const port = await freePort();
      server = new PgServer(port, dir, bin, as);
      live.add(server);
      server.run('initdb', ['-D', server.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
      // The tests kill clients and restart the server, never the machine: fsync buys nothing here.
      fs.appendFileSync(
        path.join(server.dataDir, 'postgresql.conf'),
        [
          `port = ${port}`,
          "listen_addresses = '127.0.0.1'",
          `unix_socket_directories = '${server.socketDir}'`,
          'fsync = off',
          'full_page_writes = off',
          'max_connections = 50',
          "log_min_messages = 'warning'",
          '',
        ].join('\n'),
      );
      // Another process may take the free port between our probe and the server's bind: try others.
      for (let attempt = 1; ; attempt++) {
        try {
          await server.start();
          return server;
        } catch (err) {
          if (attempt >= 3) throw err;
          server.port = await freePort();
          fs.appendFileSync(path.join(server.dataDir, 'postgresql.conf'), `port = ${server.port}\n`);
        }
      }
    } catch (err) {
      server?.destroy();
      if (!server) fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private run(tool: string, args: string[]): string {
    try {
      return execFileSync(path.join(this.bin, tool), args, {
        cwd: this.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
        ...(this.as ? { uid: this.as.uid, gid: this.as.gid } : {}),
      });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      const log = path.join(this.dir, 'server.log');
      const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : '';
      throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}\n${tail}`);
    }
  }

  /** Starts the server and waits until it accepts a query. */
  async start(): Promise<void> {
    this.run('pg_ctl', ['start', '-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60']);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ connectionString: this.connectionString, connectionTimeoutMillis: 2000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return;
      } catch (err) {
        await client.end().catch(() => {});
        if (Date.now() > deadline) throw new Error(`PostgreSQL on port ${this.port} did not accept connections: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Stops the server: 'fast' disconnects clients and shuts down cleanly, 'immediate' is a crash. */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    if (!fs.existsSync(path.join(this.dataDir, 'postmaster.pid'))) return;
    this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60']);
  }

  /** Stops the server and deletes its directory. Safe to call twice. */
  destroy(): void {
    if (!live.has(this)) return;
    try {
      this.stop('fast');
    } catch {
      this.killNow();
    }
    live.delete(this);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort (exit hook): SIGQUIT the postmaster and remove the dir. */
  killNow(): void {
    try {
      const pidFile = path.join(this.dataDir, 'postmaster.pid');
      if (fs.existsSync(pidFile)) {
        const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      }
    } catch {
      // Already gone.
    }
    live.delete(this);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** A connected client; the caller ends it. */
  async client(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.connectionString });
    await client.connect();
    return client;
  }

  /** Runs one query on a short-lived connection. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    const client = await this.client();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }
}
