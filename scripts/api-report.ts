/**
 * The API report: every name `src/index.ts` exports, with its kind and its declaration exactly as the
 * published `.d.ts` has it (built with tsconfig.build.json, so `@internal` members are stripped).
 * The checked-in copy is docs/api-report.md; test/api-report.test.ts fails when the two differ, so a
 * change to the public surface is always a visible diff in review.
 *
 * `npm run api-report` rewrites docs/api-report.md. Building the report also compiles the emitted
 * `index.d.ts` on its own (skipLibCheck off): a public signature that names a stripped type fails here.
 *
 * The TypeScript in node_modules is the native compiler (no JS compiler API), so declarations are
 * read from the emitted `.d.ts` text, which tsc prints in one fixed style: top-level statements
 * start in column 0 and brackets balance by the statement's end.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPORT_PATH = path.join(root, 'docs', 'api-report.md');
const TSC = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function tsc(args: string[]): void {
  const r = spawnSync(process.execPath, [TSC, ...args], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
}

/** Emits the published declarations into a temporary directory and checks they compile alone. */
function emitDeclarations(dir: string): void {
  tsc(['-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--declarationMap', 'false', '--sourceMap', 'false', '--outDir', dir]);
  const check = path.join(dir, 'tsconfig.check.json');
  fs.writeFileSync(
    check,
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        lib: ['ES2023'],
        types: ['node'],
        typeRoots: [path.join(root, 'node_modules', '@types')],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: [path.join(dir, 'index.d.ts')],
    }),
  );
  tsc(['-p', check]);
}

function stripComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('\n')
    .filter((l) => !/^\s*\/\//.test(l))
    .join('\n');
}

/** Top-level statements of a .d.ts, each as its lines (comments removed, blank lines dropped). */
function statements(text: string): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let depth = 0;
  for (const line of stripComments(text).split('\n')) {
    if (line.trim() === '') continue;
    cur.push(line.replace(/\s+$/, ''));
    for (const ch of line.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`/g, '')) {
      if (ch === '{' || ch === '(' || ch === '[') depth++;
      else if (ch === '}' || ch === ')' || ch === ']') depth--;
    }
    if (depth === 0 && /[;}]$/.test(line.trim())) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

interface Exported {
  name: string;
  /** The name in the module that declares it (differs under `export { a as b }`). */
  local: string;
  module: string;
}

/** `export { a, type b, c as d } from './x.js'` statements of one module. */
function reExports(stmts: string[][]): Exported[] {
  const out: Exported[] = [];
  for (const s of stmts) {
    const m = /^export (?:type )?\{([\s\S]*)\} from '([^']+)';$/.exec(s.join(' '));
    if (!m) continue;
    for (const raw of m[1]!.split(',')) {
      const spec = raw.trim().replace(/^type\s+/, '');
      if (spec === '') continue;
      const [local, alias] = spec.split(/\s+as\s+/);
      out.push({ name: (alias ?? local)!.trim(), local: local!.trim(), module: m[2]! });
    }
  }
  return out;
}

const DECL = /^export (?:declare )?(?:abstract )?(class|interface|type|function|const|let|enum|namespace) ([A-Za-z_$][\w$]*)/;

interface Declaration {
  kind: string;
  text: string;
  source: string;
}

/** Finds `name`'s declaration in the .d.ts at `file`, following re-exports. */
function declarationOf(dir: string, file: string, name: string, seen = 0): Declaration {
  if (seen > 10) throw new Error(`re-export loop resolving ${name}`);
  const stmts = statements(fs.readFileSync(file, 'utf8'));
  const found = stmts.filter((s) => {
    const m = DECL.exec(s[0]!);
    return m !== null && m[2] === name;
  });
  if (found.length > 0) {
    const kind = DECL.exec(found[0]![0]!)![1]!;
    const source = path.relative(dir, file).replace(/\.d\.ts$/, '.ts').split(path.sep).join('/');
    // Private members are in every .d.ts (they keep classes nominal) but are not callable: leaving
    // them out keeps the report to the surface users see, and its diffs to real API changes.
    const text = found.map((s) => s.filter((l) => !/^\s+(private |#private;)/.test(l)).join('\n')).join('\n');
    return { kind, source: `src/${source}`, text };
  }
  const re = reExports(stmts).find((e) => e.name === name);
  if (re) return declarationOf(dir, path.resolve(path.dirname(file), re.module.replace(/\.js$/, '.d.ts')), re.local, seen + 1);
  throw new Error(`cannot find the declaration of ${name} in ${file}`);
}

/** The report's text, from a fresh build of the declarations. */
export function buildApiReport(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-api-'));
  try {
    emitDeclarations(dir);
    const index = path.join(dir, 'index.d.ts');
    const exported = reExports(statements(fs.readFileSync(index, 'utf8')));
    exported.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const lines = [
      '# API report: redb-audit',
      '',
      'Generated by `npm run api-report` from the published declarations (`tsconfig.build.json`, `stripInternal`).',
      'Do not edit by hand: test/api-report.test.ts fails when this file and the exports of `src/index.ts` differ.',
      '',
      `${exported.length} exported names.`,
      '',
    ];
    for (const e of exported) {
      const d = declarationOf(dir, path.resolve(dir, e.module.replace(/\.js$/, '.d.ts')), e.local);
      lines.push(`## ${e.name} (${d.kind}, ${d.source})`, '', '```ts', d.text, '```', '');
    }
    return lines.join('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(REPORT_PATH, buildApiReport());
  console.log(`wrote ${path.relative(root, REPORT_PATH)}`);
}
