// Applies scripts/layout-moves.txt ("old new" per line): git-mv each file still at its old path, then
// rewrite every relative import in src/, test/, bench/, scripts/ that names an old path so it names the
// new one. Idempotent: after merging a branch written against the old layout, run it again from the
// repo root (`node scripts/apply-layout-moves.mjs`) to fix that branch's imports.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const moves = new Map(fs.readFileSync('scripts/layout-moves.txt', 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/)));
const files0 = execFileSync('git', ['ls-files', 'src', 'test', 'bench', 'scripts'], { encoding: 'utf8' }).split('\n').filter((f) => /\.(ts|mts|mjs|js)$/.test(f));
for (const [a, b] of moves) {
  if (!fs.existsSync(a)) continue;
  fs.mkdirSync(path.dirname(b), { recursive: true });
  execFileSync('git', ['mv', a, b]);
}
const tsOf = (p) => p.replace(/\.js$/, '.ts');
for (const old of files0) {
  const now = moves.get(old) ?? old;
  if (!fs.existsSync(now)) continue;
  const src = fs.readFileSync(now, 'utf8');
  const out = src.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\2/g, (m, pre, q, spec) => {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(old), spec));
    const t = tsOf(target);
    const moved = moves.get(t);
    const dest = moved ?? t;
    if (!moved && !(moves.has(old))) return m;
    let rel = path.posix.relative(path.posix.dirname(now), dest);
    if (!rel.startsWith('.')) rel = './' + rel;
    if (spec.endsWith('.js')) rel = rel.replace(/\.ts$/, '.js');
    else if (!spec.endsWith('.ts')) rel = rel.replace(/\.ts$/, '');
    return pre + q + rel + q;
  });
  if (out !== src) fs.writeFileSync(now, out);
}
