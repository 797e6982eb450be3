import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RequestOutcome } from "./request-record.js";

/** Request durations from a replay (about a millisecond) to a slow upstream call, in seconds. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The gateway's Prometheus metrics, in a registry of its own (never prom-client's global
 * one, so two gateways in a process, or the application's own metrics, never collide).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly executed = new Counter({
    name: "oncely_executed_total",
    help: "Guarded requests forwarded to the upstream under a key; stored tells whether the response will be replayed.",
    labelNames: ["stored"] as const,
    registers: [this.registry],
  });
  readonly replayed = new Counter({
    name: "oncely_replayed_total",
    help: "Requests answered with a stored response; the upstream was not called.",
    registers: [this.registry],
  });
  readonly conflicts = new Counter({
    name: "oncely_conflicts_total",
    help: "Duplicates that arrived while the original was still in flight (409).",
    registers: [this.registry],
  });
  readonly mismatches = new Counter({
    name: "oncely_mismatches_total",
    help: "Keys reused with a different method, path or body.",
    registers: [this.registry],
  });
  readonly released = new Counter({
    name: "oncely_released_total",
    help: "Keys released so that a retry executes again, by reason (status, declined, error).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: "oncely_store_errors_total",
    help: "Failed store operations, by operation.",
    labelNames: ["operation"] as const,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: "oncely_upstream_errors_total",
    help: "Upstream calls that failed: unreachable (502), timeout (504) or broken (the response broke off).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "oncely_request_duration_seconds",
    help: "Time from a request's arrival until its response was sent, by outcome.",
    labelNames: ["outcome"] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  /** @param inFlight counts the requests being handled, and those executing under a key's lease, when scraped */
  constructor(inFlight: () => { requests: number; executions: number }) {
    const registers = [this.registry];
    new Gauge({
      name: "oncely_in_flight_requests",
      help: "Requests the gateway is handling right now.",
      registers,
      collect() {
        this.set(inFlight().requests);
      },
    });
    new Gauge({
      name: "oncely_in_flight_executions",
      help: "Guarded requests executing under a key's lease right now.",
      registers,
      collect() {
        this.set(inFlight().executions);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Records a finished request. */
  observe(outcome: RequestOutcome, seconds: number): void {
    this.duration.observe({ outcome }, seconds);
    if (
      outcome === "upstream-unreachable" ||
      outcome === "upstream-timeout" ||
      outcome === "upstream-broken"
    ) {
      this.upstreamErrors.inc({ kind: outcome.slice("upstream-".length) });
    }
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
