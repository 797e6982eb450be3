// The soak's request mix against one target, launched at a steady rate: new keys, replays of
// earlier keys, bursts of concurrent duplicates (with and without `wait`), and requests the
// client abandons part-way. Every answer is checked; anything unexpected is tallied.
import { setTimeout as sleep } from "node:timers/promises";
import { type AbortPoint, type Answer, RequestTimeoutError, SoakClient } from "./client.js";

/** The kinds of operation in the mix, with how many of every 100 operations are of each kind. */
export const MIX = {
  fresh: 40,
  replay: 30,
  burst: 12,
  "abort mid-body": 6,
  "abort before response": 6,
  "abort mid-response": 6,
} as const;

export type Operation = keyof typeof MIX;

const ABORT_POINTS: Record<Exclude<Operation, "fresh" | "replay" | "burst">, AbortPoint> = {
  "abort mid-body": "mid-body",
  "abort before response": "before-response",
  "abort mid-response": "mid-response",
};

/** Duplicates sent at once in a burst. */
const BURST = 5;
/** Keys kept for replays: the most recent ones (older keys are never replayed, so never kept). */
const REPLAYABLE = 1000;
/** Longest a key may answer 409 before the soak counts it as stuck in flight. */
const STUCK_MS = 30_000;
/** Requests of one key left without an answer before the soak stops retrying it. */
const MAX_TIMEOUTS = 3;
/** Unexpected answers described in full; the rest are only counted. */
const DESCRIBED = 20;

/** What one target's traffic did. */
export interface Tally {
  readonly operations: Record<Operation, number>;
  requests: number;
  /** Operations not launched because too many were still outstanding (the driver fell behind). */
  skipped: number;
  /**
   * 503 `store-unavailable` answers: the store answered too late (the machine is overloaded),
   * so nothing ran. The soak retries them after `Retry-After`, as a client should.
   */
  shed: number;
  unexpected: number;
  readonly descriptions: string[];
  /** Latency (ms) of single requests: new keys and replays. */
  readonly latency: { readonly fresh: number[]; readonly replay: number[] };
  /** Every key sent, each of which must have executed exactly once. */
  readonly keys: Set<string>;
}

interface Completed {
  readonly key: string;
  readonly path: string;
  readonly body: string;
  readonly digest: string;
}

/** Drives one target. */
export class Traffic {
  readonly tally: Tally = {
    operations: Object.fromEntries(Object.keys(MIX).map((name) => [name, 0])) as Record<Operation, number>,
    requests: 0,
    skipped: 0,
    shed: 0,
    unexpected: 0,
    descriptions: [],
    latency: { fresh: [], replay: [] },
    keys: new Set(),
  };
  readonly #client: SoakClient;
  readonly #waitingPath: string | undefined;
  readonly #prefix: string;
  readonly #completed: Completed[] = [];
  #next = 0;
  #counter = 0;
  #outstanding = 0;
  readonly #deck = new Deck();

  /** @param waitingPath a path whose duplicates wait for the original, if the target has one */
  constructor(url: string, waitingPath: string | undefined, prefix: string) {
    this.#client = new SoakClient(url);
    this.#waitingPath = waitingPath;
    this.#prefix = prefix;
  }

  /** Operations launched and not yet ended. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Launches `rate` operations a second for `durationMs`, then waits for the last to end. */
  async run(durationMs: number, rate: number, maxOutstanding = 500): Promise<void> {
    const outstanding = new Set<Promise<void>>();
    const start = performance.now();
    let launched = 0;
    for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - start) {
      const due = Math.floor((elapsed * rate) / 1000) - launched;
      for (let i = 0; i < due; i++) {
        launched++;
        if (outstanding.size >= maxOutstanding) {
          this.tally.skipped++;
          continue;
        }
        const operation = this.#operation(this.#deck.draw()).catch((error: unknown) =>
          this.#unexpected(String(error)),
        );
        outstanding.add(operation);
        this.#outstanding = outstanding.size;
        void operation.finally(() => {
          outstanding.delete(operation);
          this.#outstanding = outstanding.size;
        });
      }
      await sleep(10);
    }
    await Promise.all(outstanding);
    this.#client.close();
  }

  async #operation(kind: Operation): Promise<void> {
    this.tally.operations[kind]++;
    switch (kind) {
      case "fresh":
        return this.#fresh();
      case "replay":
        return this.#replay();
      case "burst":
        return this.#burst();
      default:
        return this.#abandoned(ABORT_POINTS[kind]);
    }
  }

  async #fresh(): Promise<void> {
    const { key, body } = this.#newKey("fresh");
    const answer = await this.#send("/orders", key, body, { "x-delay": String(randomInt(20)) });
    this.tally.latency.fresh.push(answer.ms);
    if (this.#expect(answer.status === 201 && !answer.replayed, key, "a new key", answer))
      this.#remember({ key, path: "/orders", body, digest: answer.digest });
  }

  async #replay(): Promise<void> {
    const earlier = this.#completed[randomInt(this.#completed.length)];
    if (!earlier) return this.#fresh();
    const answer = await this.#send(earlier.path, earlier.key, earlier.body);
    this.tally.latency.replay.push(answer.ms);
    this.#expect(
      answer.status === 201 && answer.replayed && answer.digest === earlier.digest,
      earlier.key,
      "a replay of the stored answer",
      answer,
    );
  }

  /** Concurrent duplicates of a slow request: one executes; the others wait, get 409 and retry, or replay. */
  async #burst(): Promise<void> {
    const { key, body } = this.#newKey("burst");
    const waiting = this.#waitingPath !== undefined && this.tally.operations.burst % 2 === 0;
    const path = waiting ? (this.#waitingPath as string) : "/orders";
    const answers = await Promise.all(
      Array.from({ length: BURST }, () => this.#send(path, key, body, { "x-delay": "100" })),
    );
    const conflicts = answers.filter((answer) => answer.status === 409).length;
    const originals = answers.filter((answer) => answer.status === 201 && !answer.replayed);
    const replays = answers.filter((answer) => answer.status === 201 && answer.replayed);
    const [original] = originals;
    const consistent =
      originals.length === 1 &&
      conflicts + originals.length + replays.length === BURST &&
      (!waiting || conflicts === 0) &&
      replays.every((answer) => answer.digest === original?.digest);
    if (!this.#expect(consistent, key, `one execution of ${BURST} duplicates${waiting ? " with wait" : ""}`))
      return;
    this.#remember({ key, path, body, digest: original?.digest ?? "" });
    // A duplicate told 409 comes back, as a client would, and gets the replay.
    if (conflicts > 0) await this.#settled(path, key, body, original?.digest);
  }

  /** A request abandoned at `point`, then retried until it gets its answer. */
  async #abandoned(point: AbortPoint): Promise<void> {
    const { key, body } = this.#newKey(`abort-${point}`);
    const headers = point === "mid-response" ? { "x-chunks": "8" } : { "x-delay": "150" };
    this.tally.requests++;
    await this.#client.abandon("/orders", key, body, point, headers, point === "mid-body" ? 10 : 50);
    // Cut off mid-body, nothing was claimed and the retry executes; cut off mid-response, the
    // request executed anyway and the retry is its replay. Cut off before the response, it
    // depends on whether the claim came before the client left: either way it runs once.
    const answer = await this.#settled("/orders", key, body, undefined, headers);
    if (!answer) return;
    const expected = { "mid-body": false, "before-response": answer.replayed, "mid-response": true }[point];
    if (this.#expect(answer.replayed === expected, key, `a retry after an abort ${point}`, answer))
      this.#remember({ key, path: "/orders", body, digest: answer.digest });
  }

  /** Sends until the answer is not 409 (at most {@link STUCK_MS}); checks it is a 201, and equal to `digest` if given. */
  async #settled(
    path: string,
    key: string,
    body: string,
    digest: string | undefined,
    headers: Record<string, string> = {},
  ): Promise<Answer | undefined> {
    const deadline = performance.now() + STUCK_MS;
    for (;;) {
      const answer = await this.#send(path, key, body, headers);
      if (answer.status !== 409) {
        const ok = answer.status === 201 && (digest === undefined || answer.digest === digest);
        return this.#expect(ok, key, "the stored answer after 409", answer) ? answer : undefined;
      }
      if (performance.now() > deadline) {
        this.#unexpected(`${key}: still 409 after ${STUCK_MS} ms (stuck in flight)`);
        return undefined;
      }
      await sleep(50);
    }
  }

  /**
   * Sends once, and again after each 503 `store-unavailable` (see {@link Tally.shed}) and
   * each request left without an answer (unexpected, but retried with its key as a client
   * would, so that its executions can still be counted).
   */
  async #send(
    path: string,
    key: string,
    body: string,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    for (let timeouts = 0; ; ) {
      this.tally.requests++;
      let answer: Answer;
      try {
        answer = await this.#client.send(path, key, body, headers);
      } catch (error) {
        if (!(error instanceof RequestTimeoutError) || ++timeouts > MAX_TIMEOUTS) throw error;
        this.#unexpected(`${key}: ${error.message}; retried`);
        continue;
      }
      if (answer.status !== 503 || answer.problem !== "store-unavailable") return answer;
      this.tally.shed++;
      await sleep(1000);
    }
  }

  /** A key never sent before, named for the operation that sends it (for the report). */
  #newKey(operation: string): { key: string; body: string } {
    const key = `${this.#prefix}-${++this.#counter}-${operation}`;
    this.tally.keys.add(key);
    return { key, body: JSON.stringify({ order: this.#counter, items: ["soak"] }) };
  }

  #remember(completed: Completed): void {
    this.#completed[this.#next] = completed;
    this.#next = (this.#next + 1) % REPLAYABLE;
  }

  #expect(ok: boolean, key: string, expected: string, answer?: Answer): boolean {
    if (!ok) {
      const got = answer
        ? `: got ${answer.status}${answer.replayed ? " (replayed)" : ""}, ${answer.bytes} bytes`
        : "";
      this.#unexpected(`${key}: expected ${expected}${got}`);
    }
    return ok;
  }

  #unexpected(description: string): void {
    this.tally.unexpected++;
    if (this.tally.descriptions.length < DESCRIBED) this.tally.descriptions.push(description);
  }
}

function randomInt(below: number): number {
  return Math.floor(Math.random() * below);
}

/**
 * The operations of {@link MIX}, each as many times as its weight, in a random order: drawn
 * in turn, so that every stretch of 100 operations holds the mix exactly.
 */
class Deck {
  #cards: Operation[] = [];

  draw(): Operation {
    if (this.#cards.length === 0) {
      this.#cards = (Object.entries(MIX) as Array<[Operation, number]>).flatMap(([operation, weight]) =>
        Array.from({ length: weight }, () => operation),
      );
      for (let i = this.#cards.length - 1; i > 0; i--) {
        const j = randomInt(i + 1);
        [this.#cards[i], this.#cards[j]] = [this.#cards[j] as Operation, this.#cards[i] as Operation];
      }
    }
    return this.#cards.pop() as Operation;
  }
}
