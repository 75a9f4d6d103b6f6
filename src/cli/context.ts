/**
 * What every verb shares: the global options (--dir, --json, --quiet, --verbose, --key-file), where
 * output goes, and how the store is opened.
 *
 * Output contract: with --json, stdout carries only machine output (one JSON document, or NDJSON for
 * streams); notes, warnings and progress go to stderr. Without it, results are for people on stdout
 * and progress bars on stderr, only when stderr is a terminal. --quiet drops notes and progress, never
 * results or errors.
 *
 * Opening: the store's shard count and encryption are read from its manifest, so no verb asks for
 * them again after `init`. Verbs that only read open it read-only (no lock, nothing written), so
 * they work while another process writes; verbs that write take the writer lock. Nothing here
 * repairs anything (autoRecovery off): damage is reported, and fixed only by `repair`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { EncryptionKeyError, NotFoundError, ValidationError } from '../errors.js';
import type { KeySource } from '../codec/key-source.js';
import { MANIFEST_NAME, readManifest } from '../manager/manifest.js';
import type { RedbOptions } from '../manager/options.js';
import { RedbManager } from '../manager/redb-manager.js';
import { RedbAuditStore } from '../audit/audit-store.js';
import { errorLine, exitCodeFor, ExitCode, type ExitCodeValue } from './exit-codes.js';

/** The environment variables the CLI reads. */
export const ENV_DIR = 'REDB_AUDIT_DIR';
export const ENV_KEY = 'REDB_AUDIT_KEY';
export const DEFAULT_DIR = 'redb-audit-data';

/** The global options as commander parses them. */
export interface GlobalOptions {
  dir?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  keyFile?: string;
}

/** Whether a verb changes the store (and so needs the writer lock) or only reads it. */
export type AccessMode = 'read' | 'write';

export class CliContext {
  readonly dir: string;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly keyFile: string | undefined;

  constructor(g: GlobalOptions) {
    this.dir = path.resolve(g.dir ?? process.env[ENV_DIR] ?? DEFAULT_DIR);
    this.json = g.json === true;
    this.quiet = g.quiet === true;
    this.verbose = g.verbose === true;
    this.keyFile = g.keyFile;
  }

  /** True when progress bars and tables may be drawn (stderr / stdout are terminals). */
  get interactive(): boolean {
    return !this.json && !this.quiet && process.stderr.isTTY === true;
  }

  get stdoutIsTty(): boolean {
    return process.stdout.isTTY === true;
  }

  /** The verb's result: JSON on stdout with --json, else the human lines on stdout. */
  result(value: unknown, human: () => string | string[]): void {
    if (this.json) {
      process.stdout.write(`${JSON.stringify(value)}\n`);
      return;
    }
    const text = human();
    const lines = Array.isArray(text) ? text : [text];
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  }

  /** A note for people (stderr with --json, so stdout stays machine-readable); dropped by --quiet. */
  note(line: string): void {
    if (this.quiet) return;
    (this.json ? process.stderr : process.stdout).write(`${line}\n`);
  }

  /** A warning: always on stderr, even with --quiet. */
  warn(line: string): void {
    process.stderr.write(`warning: ${line}\n`);
  }

  /** The encryption key named by --key-file or $REDB_AUDIT_KEY, or null. */
  keySource(): KeySource | null {
    if (this.keyFile !== undefined) {
      if (!fs.existsSync(this.keyFile)) throw new NotFoundError(`the key file ${this.keyFile} does not exist; pass the path of a file holding the 32-byte key (64 hex digits or base64)`);
      return { file: path.resolve(this.keyFile) };
    }
    if (process.env[ENV_KEY]) return { env: ENV_KEY };
    return null;
  }

  /** RedbOptions for the existing store in --dir, from its manifest. */
  storeOptions(mode: AccessMode): RedbOptions {
    const manifest = readManifest(this.dir);
    if (!manifest) {
      const what = fs.existsSync(this.dir) ? `${this.dir} holds no redb-audit store (no ${MANIFEST_NAME})` : `${this.dir} does not exist`;
      throw new NotFoundError(`${what}; create a store with \`redb-audit init --dir ${this.dir}\`, or point --dir or $${ENV_DIR} at an existing one`);
    }
    const options: RedbOptions = {
      baseDir: this.dir,
      shardingEnabled: manifest.shardCount > 1,
      shardCount: manifest.shardCount,
      // Reads never salvage: a damaged store is reported, and repaired only by `repair`.
      autoRecovery: false,
      // verify does its own full pass; the others need not pay for one at every open.
      checksumVerification: false,
      // Readers take no lock and write nothing, so they work beside the agent that owns the store.
      readOnly: mode === 'read',
    };
    if (manifest.encryption) {
      const key = this.keySource();
      if (!key) throw new EncryptionKeyError(`the store in ${this.dir} is encrypted; pass --key-file <path> or set $${ENV_KEY} to its key`);
      options.encryptionEnabled = true;
      options.encryptionKey = key;
    }
    return options;
  }

  /** Opens the store in --dir for a verb that reads or writes. The caller closes it. */
  openManager(mode: AccessMode): RedbManager {
    return RedbManager.open(this.storeOptions(mode));
  }

  /** Opens the audit store in --dir for a verb that reads or writes events. The caller closes it. */
  openAudit(mode: AccessMode): Promise<RedbAuditStore> {
    const options = this.storeOptions(mode);
    const settings = readCliSettings(this.dir);
    return RedbAuditStore.open({ ...options, ...(settings.personalData ? { personalData: { enabled: true } } : {}) });
  }
}

/**
 * Audit options chosen at `init` that every later open must repeat (the engine's own settings are
 * in its manifest): `<dir>/redb-audit.cli.json`. An agent embedding the store passes the same
 * options to RedbAuditStore.open itself.
 */
export const CLI_SETTINGS = 'redb-audit.cli.json';

export interface CliSettings {
  /** Seal personal-data fields under per-subject keys (init --personal-data; needed by erase-subject). */
  personalData?: boolean;
}

export function readCliSettings(dir: string): CliSettings {
  const file = path.join(dir, CLI_SETTINGS);
  if (!fs.existsSync(file)) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as CliSettings;
  } catch (err) {
    throw new ValidationError(`${file} is not valid JSON (${(err as Error).message}); it holds the options given to redb-audit init, such as {"personalData": true}`);
  }
}

/** The exit code a verb's action returns (undefined: 0). */
export type VerbResult = ExitCodeValue | undefined | void;

/**
 * Wraps a verb's action: builds the context from the global options, runs the verb, and turns its
 * outcome into an exit code, and any error into one line on stderr (with the stack under --verbose).
 */
export function verbAction<A extends unknown[]>(run: (ctx: CliContext, ...args: A) => Promise<VerbResult> | VerbResult): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const ctx = new CliContext(command.optsWithGlobals<GlobalOptions>());
    try {
      const code = await run(ctx, ...(args.slice(0, -1) as A));
      process.exitCode = code ?? ExitCode.Ok;
    } catch (err) {
      reportError(err, ctx.verbose);
    }
  };
}

/** Prints an error the CLI's way and sets the exit code. */
export function reportError(err: unknown, verbose: boolean): void {
  process.stderr.write(`${errorLine(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exitCode = exitCodeFor(err);
}
