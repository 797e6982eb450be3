/**
 * What the dashboard knows of the engine's events: per-second counts of each kind over a
 * sliding window, totals since start, and the most recent events. Fed by engine hooks.
 * @module
 */
import { emit, type IdempotencyHooks } from "../core/hooks.js";
import { scopeLabel } from "./records.js";

/** The kinds of event the dashboard charts, one series each. */
export const EVENT_KINDS = [
  "executed",
  "replayed",
  "conflicts",
  "mismatches",
  "released",
  "storeErrors",
] as const;

/** One charted kind of event. */
export type EventKind = (typeof EVENT_KINDS)[number];

/** One recent event, as the page lists it. */
export interface RecentEvent {
  /** Epoch milliseconds. */
  readonly at: number;
  readonly kind: EventKind;
  readonly key: string | undefined;
  /** The scope as a label safe to show (see {@link scopeLabel}). */
  readonly scope: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
}

/** The counts of the last {@link ActivitySnapshot.seconds} seconds, oldest first, and the totals. */
export interface ActivitySnapshot {
  /** Epoch milliseconds of the end of the newest second. */
  readonly now: number;
  readonly seconds: number;
  readonly series: Readonly<Record<EventKind, readonly number[]>>;
  readonly totals: Readonly<Record<EventKind, number>>;
  /** Replays among executions and replays over the window, 0…1; null when there were neither. */
  readonly replayRate: number | null;
  readonly recent: readonly RecentEvent[];
}

/** Seconds kept per series. */
const WINDOW_SECONDS = 120;
/** Recent events kept. */
const RECENT = 50;

/** Counts engine events per second: pass {@link observe}'s hooks to the engine; read with {@link snapshot}. */
export class Activity {
  readonly #buckets = new Map<EventKind, Int32Array>(
    EVENT_KINDS.map((kind) => [kind, new Int32Array(WINDOW_SECONDS)]),
  );
  readonly #totals = Object.fromEntries(EVENT_KINDS.map((kind) => [kind, 0])) as Record<EventKind, number>;
  /** Newest last, with the raw scope and path: an event costs no hashing; {@link snapshot} labels them. */
  readonly #recent: RecentEvent[] = [];
  /** The second (epoch seconds) the newest bucket counts. */
  #second = 0;
  readonly #clock: () => number;

  /** @param clock epoch milliseconds; a test may pass its own */
  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  /** Engine hooks that count each event, then call the same hook of `user`. */
  observe(user: IdempotencyHooks = {}): IdempotencyHooks {
    return {
      onExecuted: (event) => {
        this.record("executed", event, event.status);
        emit(user.onExecuted, event);
      },
      onReplayed: (event) => {
        this.record("replayed", event, event.status);
        emit(user.onReplayed, event);
      },
      onConflict: (event) => {
        this.record("conflicts", event, 409);
        emit(user.onConflict, event);
      },
      onMismatch: (event) => {
        this.record("mismatches", event, undefined);
        emit(user.onMismatch, event);
      },
      onReleased: (event) => {
        this.record("released", event, event.status);
        emit(user.onReleased, event);
      },
      onStoreError: (event) => {
        this.record("storeErrors", event, undefined);
        emit(user.onStoreError, event);
      },
    };
  }

  /** Counts one event now. */
  record(
    kind: EventKind,
    event: { key?: string; scope?: string; method: string; path: string },
    status: number | undefined,
  ): void {
    const at = this.#clock();
    this.#advance(Math.floor(at / 1000));
    const buckets = this.#buckets.get(kind) as Int32Array;
    buckets[WINDOW_SECONDS - 1] = (buckets[WINDOW_SECONDS - 1] ?? 0) + 1;
    this.#totals[kind]++;
    this.#recent.push({
      at,
      kind,
      key: event.key,
      scope: event.scope,
      method: event.method,
      path: event.path,
      status,
    });
    if (this.#recent.length > RECENT) this.#recent.shift();
  }

  /** The counts up to now. */
  snapshot(): ActivitySnapshot {
    const now = this.#clock();
    this.#advance(Math.floor(now / 1000));
    const series = Object.fromEntries(
      EVENT_KINDS.map((kind) => [kind, Array.from(this.#buckets.get(kind) as Int32Array)]),
    ) as Record<EventKind, number[]>;
    const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
    const replayed = sum(series.replayed);
    const guarded = replayed + sum(series.executed);
    return {
      now: (this.#second + 1) * 1000,
      seconds: WINDOW_SECONDS,
      series,
      totals: { ...this.#totals },
      replayRate: guarded === 0 ? null : replayed / guarded,
      // Newest first; scopes as labels, paths without their query (it may carry a secret).
      recent: this.#recent
        .map((event) => ({
          ...event,
          scope: event.scope === undefined ? undefined : scopeLabel(event.scope),
          path: event.path.split("?", 1)[0] ?? "",
        }))
        .reverse(),
    };
  }

  /** Shifts every series so that its last bucket counts `second`. */
  #advance(second: number): void {
    const shift = second - this.#second;
    if (shift <= 0) return;
    this.#second = second;
    for (const buckets of this.#buckets.values()) {
      if (shift >= WINDOW_SECONDS) buckets.fill(0);
      else {
        buckets.copyWithin(0, shift);
        buckets.fill(0, WINDOW_SECONDS - shift);
      }
    }
  }
}
