// Cost of the integrity layer on audit ingest: events/s of RedbAuditStore.insertEvents with the
// Merkle log on (the default) against integrity.enabled: false, and with crypto-shredding on as well.
// Each run is its own child process and temp dir; variants alternate within each round and the
// median of the rounds is reported, both in wall-clock events/s and in events per CPU-second (the
// steadier figure on a shared machine). Timed from the first insert to the end of close() (which folds
// the memtables and, with integrity on, signs the last checkpoints), so nothing is left out.
//
//   npx tsx bench/integrity.ts [--events 200000] [--batch 1000] [--rounds 3] [--tenants 4]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedbAuditStore } from '../src/index.js';

type Variant = 'off' | 'on' | 'on+pd';
const VARIANTS: Variant[] = ['off', 'on', 'on+pd'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function child(variant: Variant, events: number, batch: number, tenants: number): Promise<void> {
  const t0 = Date.UTC(2026, 0, 1);
  const batches = [];
  for (let i = 0; i < events; i += batch) {
    batches.push(
      Array.from({ length: Math.min(batch, events - i) }, (_, j) => {
        const n = i + j;
        return {
          tenantId: `tenant-${n % tenants}`,
          timestamp: t0 + n,
          actor: { id: `user-${n % 500}`, type: 'user', name: `User ${n % 500}` },
          action: n % 4 === 0 ? 'record.update' : 'record.read',
          resource: { type: 'patient-record', id: `rec-${n % 20000}` },
          outcome: n % 10 === 0 ? ('denied' as const) : ('success' as const),
          sourceIp: `10.0.${(n >> 8) & 255}.${n & 255}`,
          userAgent: 'agent/1.0',
          details: { reason: 'treatment', n },
        };
      }),
    );
  }
  const dir = mkdtempSync(join(tmpdir(), `bench-integrity-${variant}-`));
  try {
    const store = await RedbAuditStore.open({
      baseDir: dir,
      integrity: { enabled: variant !== 'off' },
      personalData: { enabled: variant === 'on+pd' },
    });
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (const b of batches) store.insertEvents(b);
    store.close();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    process.stdout.write(JSON.stringify({ variant, events, seconds, eventsPerSec: events / seconds, cpuSeconds, eventsPerCpuSec: events / cpuSeconds }) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const events = Number(arg('events', '200000'));
  const batch = Number(arg('batch', '1000'));
  const tenants = Number(arg('tenants', '4'));
  if (process.argv.includes('--child')) return child(arg('variant', 'on') as Variant, events, batch, tenants);
  const rounds = Number(arg('rounds', '3'));
  const results = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const cpuResults = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const v of order) {
      const out = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', '--variant', v, '--events', String(events), '--batch', String(batch), '--tenants', String(tenants)], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (out.status !== 0) throw new Error(`variant ${v} failed: ${out.stderr}`);
      const line = JSON.parse(out.stdout.trim().split('\n').pop()!) as { eventsPerSec: number; eventsPerCpuSec: number };
      results.get(v)!.push(line.eventsPerSec);
      cpuResults.get(v)!.push(line.eventsPerCpuSec);
      process.stdout.write(`round ${r + 1} ${v}: ${Math.round(line.eventsPerSec)} events/s, ${Math.round(line.eventsPerCpuSec)} events per CPU-second\n`);
    }
  }
  // Wall-clock rates swing with whatever else the machine runs; CPU time per event is steadier.
  for (const [what, map] of [['events/s (wall clock)', results], ['events per CPU-second', cpuResults]] as const) {
    const off = median(map.get('off')!);
    process.stdout.write(`\n${events} events in batches of ${batch}, ${tenants} tenants, ${rounds} rounds, median ${what} (min-max):\n`);
    for (const v of VARIANTS) {
      const xs = map.get(v)!;
      const m = median(xs);
      process.stdout.write(`  ${v.padEnd(6)} ${Math.round(m).toString().padStart(8)}  (${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})  ${((1 - m / off) * 100).toFixed(1)}% below off\n`);
    }
  }
}

await main();
