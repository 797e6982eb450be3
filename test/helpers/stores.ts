import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { createStore } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";

/** A store the HTTP behaviour suites run against. */
export interface StoreCase {
  readonly name: string;
  /** A store whose records no other test sees (fresh file, or random keys on a shared server). */
  create(): Promise<IdempotencyStore>;
}

const temporaryDirectories: string[] = [];
// Vitest's workers end without Node's "exit" event, and one worker runs many files: the
// directories go when the file that made them has run its own after-hooks (this one runs last).
afterAll(() => {
  for (const dir of temporaryDirectories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new temporary directory, removed when the test file that made it ends. */
export function temporaryDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), "oncely-test-"));
  temporaryDirectories.push(dir);
  return dir;
}

/**
 * Memory and SQLite always; Redis and PostgreSQL when their test URLs are set (the
 * store suites say plainly when they are skipped, and CI always sets them). Under
 * `npm run mutate` (ONCELY_MUTATING=1), memory only: an engine mutant behaves alike on
 * every store, each store's own suite tests its fencing, and every store more would
 * multiply the time each mutant takes.
 */
export function storeCases(): StoreCase[] {
  const memory: StoreCase = { name: "memory", create: () => createStore("memory:") };
  if (process.env.ONCELY_MUTATING === "1") return [memory];
  const cases: StoreCase[] = [
    memory,
    { name: "sqlite", create: () => createStore(`sqlite:${join(temporaryDirectory(), "oncely.db")}`) },
  ];
  const redis = process.env.ONCELY_TEST_REDIS_URL;
  if (redis) cases.push({ name: "redis", create: () => createStore(redis) });
  const postgres = process.env.ONCELY_TEST_POSTGRES_URL;
  if (postgres) cases.push({ name: "postgres", create: () => createStore(postgres) });
  return cases;
}

/** Resolves once the anonymous-scope record of `key` is in `state` (undefined: none) (claims and stores take a moment under load). */
export async function recordState(
  store: IdempotencyStore,
  key: string,
  state: "in_flight" | "completed" | undefined,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await store.get({ scope: "anonymous", key }))?.state !== state) {
    if (Date.now() > deadline)
      throw new Error(`record ${key} did not become ${state} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves once the record of `key` is completed. */
export const completion = (store: IdempotencyStore, key: string) => recordState(store, key, "completed");

/** Resolves once the record of `key` is gone: its key was released. */
export const released = (store: IdempotencyStore, key: string) => recordState(store, key, undefined);

/** Resolves once the record of `key` is claimed by an execution. */
export const claimed = (store: IdempotencyStore, key: string) => recordState(store, key, "in_flight");

/**
 * The real `store`, except that `method` is what `replace` makes of the real one (bound to the
 * store): a backend that fails, lags or is counted at one step.
 */
export function withMethod<M extends keyof IdempotencyStore>(
  store: IdempotencyStore,
  method: M,
  replace: (real: IdempotencyStore[M]) => unknown,
): IdempotencyStore {
  return new Proxy(store, {
    get: (target, name) => {
      const value: unknown = Reflect.get(target, name, target);
      const bound = typeof value === "function" ? value.bind(target) : value;
      return name === method ? replace(bound as IdempotencyStore[M]) : bound;
    },
  });
}

/**
 * The real `store`, except that `method` rejects with `error`: a backend that goes away at
 * one step, for the paths that only a store failure reaches.
 */
export function failing(
  store: IdempotencyStore,
  method: keyof IdempotencyStore,
  error: Error,
): IdempotencyStore {
  return withMethod(store, method, () => () => Promise.reject(error));
}

/** The real `store`, except that `method` answers `delayMs` late: a backend that is slow at one step. */
export function slowAt(
  store: IdempotencyStore,
  method: keyof IdempotencyStore,
  delayMs: number,
): IdempotencyStore {
  return withMethod(store, method, (real) => async (...args: unknown[]) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return (real as (...args: unknown[]) => unknown)(...args);
  });
}
