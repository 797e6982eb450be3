// The clients of a chaos run: each key is sent by two clients at once, each retrying it, with
// the same key and body, until it gets an answer that is neither 409 nor 5xx, as a real
// client would, with bounded attempts.
import { setTimeout as sleep } from "node:timers/promises";
import { send } from "../helpers/http.js";
import type { Random } from "./random.js";

/** A 2xx answer a client got. */
export interface Answer {
  readonly key: string;
  /** The execution the body names (see witness.ts). */
  readonly id: string;
  readonly replayed: boolean;
  readonly at: number;
}

/** What the clients saw. */
export interface LoadResult {
  readonly answers: Answer[];
  /** Keys for which a client gave up (attempts or time ran out) without a 2xx answer. */
  readonly unanswered: Set<string>;
  /** Answers that are neither 2xx, 409 nor 5xx: the run must have none. */
  readonly unexpected: string[];
  attempts: number;
}

export interface LoadOptions {
  readonly keys: readonly string[];
  /** Base URL of a live app or gateway, picked for every attempt; undefined while none is up. */
  readonly target: () => string | undefined;
  readonly random: Random;
  /** Keys in progress at once. */
  readonly concurrency: number;
  /** Clients that give up on a key after this time. */
  readonly deadline: number;
  readonly maxAttempts?: number;
  /**
   * Starts the keys evenly over this time instead of at once, so that the load outlasts the
   * faults thrown at it however fast the machine answers. @default 0
   */
  readonly spreadMs?: number;
}

/** Sends every key until it is answered, and reports what the clients got. */
export async function drive(options: LoadOptions): Promise<LoadResult> {
  const { random } = options;
  const result: LoadResult = { answers: [], unanswered: new Set(), unexpected: [], attempts: 0 };
  const client = async (key: string) => {
    const work = String(random.between(0, 120));
    for (let attempt = 0; attempt < (options.maxAttempts ?? 200); attempt++) {
      if (Date.now() > options.deadline) break;
      const base = options.target();
      if (base !== undefined) {
        result.attempts++;
        const reply = await send(`${base}/orders`, {
          headers: { "idempotency-key": key, "x-work": work, "content-type": "application/json" },
          body: JSON.stringify({ key }),
          signal: AbortSignal.timeout(10_000),
        }).catch(() => undefined);
        if (reply && reply.status >= 200 && reply.status < 300) {
          const { id } = reply.json() as { id: string };
          const replayed = reply.headers.get("x-idempotency-replayed") === "true";
          result.answers.push({ key, id, replayed, at: Date.now() });
          return;
        }
        if (reply && reply.status !== 409 && reply.status < 500) {
          result.unexpected.push(`${key}: ${reply.status} ${reply.text.slice(0, 200)}`);
          return;
        }
      }
      await sleep(random.between(50, 250));
    }
    result.unanswered.add(key);
  };
  const queue = [...options.keys];
  const startedAt = Date.now();
  const startOf = (key: string) =>
    startedAt + (options.keys.indexOf(key) * (options.spreadMs ?? 0)) / options.keys.length;
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      await sleep(Math.max(0, startOf(key) - Date.now()));
      const second = sleep(random.between(0, 30)).then(() => client(key));
      await Promise.all([client(key), second]);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  // A key one client got an answer for is answered, even if its twin gave up.
  for (const answer of result.answers) result.unanswered.delete(answer.key);
  return result;
}
