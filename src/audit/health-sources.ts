/**
 * Components running beside an audit store (the PostgreSQL forwarder, for one) that add their state to
 * the store's health() and metrics(), so one probe watches everything the store's owner runs.
 *
 * Invariants: a component's status rolls up into the report's status exactly like a shard's (the
 * worst wins) and its problems are named with the component; registering twice under one name
 * replaces the first; a source that throws is itself reported unhealthy rather than breaking health().
 */
import { statusRank, type HealthReport, type HealthStatus } from '../manager/health.js';

/** A component that reports into a store's health() and metrics(). */
export interface HealthSource {
  health(): { status: HealthStatus; problems: string[] };
  /** Prometheus text exposition lines (with HELP and TYPE), ending in a newline. */
  metrics(): string;
}

/** Health of one registered component. */
export interface ComponentHealth {
  name: string;
  status: HealthStatus;
  problems: string[];
}

/** The store's health report: the shards' (RedbManager.health) plus the registered components'. */
export interface AuditHealthReport extends HealthReport {
  components: ComponentHealth[];
}

export class HealthSources {
  private readonly sources = new Map<string, HealthSource>();

  /** Adds `source` under `name`; the returned function removes it. */
  register(name: string, source: HealthSource): () => void {
    this.sources.set(name, source);
    return () => {
      if (this.sources.get(name) === source) this.sources.delete(name);
    };
  }

  /** `report` with every component's health added and rolled up into its status. */
  health(report: HealthReport): AuditHealthReport {
    const components: ComponentHealth[] = [];
    let status = report.status;
    for (const [name, source] of this.sources) {
      let h: { status: HealthStatus; problems: string[] };
      try {
        h = source.health();
      } catch (err) {
        h = { status: 'unhealthy', problems: [`its health check failed: ${(err as Error)?.message ?? String(err)}`] };
      }
      components.push({ name, status: h.status, problems: h.problems.map((p) => `${name}: ${p}`) });
      if (statusRank(h.status) > statusRank(status)) status = h.status;
    }
    return { ...report, status, components };
  }

  /** `text` followed by every component's metrics. */
  metrics(text: string): string {
    let out = text;
    for (const source of this.sources.values()) {
      try {
        out += source.metrics();
      } catch {
        // A broken component must not take the store's metrics down with it; health() names it.
      }
    }
    return out;
  }
}
