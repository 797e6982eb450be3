/**
 * The application every adapter serves in the HTTP behaviour suite, written once without
 * a framework. Each adapter's test translates it: its framework reads the request, calls
 * {@link BehaviourApp.handle}, and sends the answer (a whole body in one piece, a streamed
 * one as it comes) or fails the way that framework fails (a thrown error).
 * @module
 */
import { createHash } from "node:crypto";
import type { IdempotencyOptions } from "../../src/index.js";
import type { TestServer } from "../helpers/http.js";

/** What the app reads of a request. */
export interface AppRequest {
  readonly method: string;
  /** Path with query. */
  readonly path: string;
  readonly body: Uint8Array;
}

/** What the app answers: a body known up front (sent whole, with its length), or a stream. */
export interface AppResponse {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array | AsyncIterable<Uint8Array>;
}

/** Serves `app` on a loopback port through the adapter under test, configured with `options`. */
export type Serve = (options: IdempotencyOptions, app: BehaviourApp) => Promise<TestServer>;

/** A gate a handler waits at until the test opens it. */
export class Gate {
  #open!: () => void;
  readonly opened = new Promise<void>((resolve) => {
    this.#open = resolve;
  });
  /** Resolves once a handler reached the gate. */
  readonly reached: Promise<void>;
  #reach!: () => void;

  constructor() {
    this.reached = new Promise((resolve) => {
      this.#reach = resolve;
    });
  }

  async wait(): Promise<void> {
    this.#reach();
    await this.opened;
  }

  open(): void {
    this.#open();
  }
}

/** Size of the streamed body of `/big`. */
export const BIG_BYTES = 50 * 1024 * 1024;
const BIG_CHUNK = 256 * 1024;
const encoder = new TextEncoder();

/**
 * Routes (all answer every method):
 * - `/orders`: 201 JSON with the execution count and the body it read, sent whole;
 * - `/stream`: 201 text in three streamed pieces;
 * - `/slow`: like `/orders`, after waiting at {@link BehaviourApp.slow};
 * - `/fail`: the handler throws; `/unavailable`: it answers 503;
 * - `/declined`: like `/orders`, marked `X-Idempotency-Store: no` so that it is not kept;
 * - `/big`: 201 with {@link BIG_BYTES} streamed bytes, different for every execution;
 * - `/abandoned`: a first piece, then waits at {@link BehaviourApp.abandoned}, then the rest;
 * - `/upload`: 201 JSON with the execution count, and the length and SHA-256 of the body it
 *   read; `/slow-upload`: the same after waiting at {@link BehaviourApp.slow}.
 */
export class BehaviourApp {
  /** Executions per path. */
  readonly executions = new Map<string, number>();
  slow = new Gate();
  abandoned = new Gate();

  count(path: string): number {
    return this.executions.get(path) ?? 0;
  }

  async handle(request: AppRequest): Promise<AppResponse> {
    const route = request.path.split("?")[0] ?? "/";
    const count = this.count(route) + 1;
    this.executions.set(route, count);
    const text = new TextDecoder().decode(request.body);
    const json = (status: number) => ({
      status,
      headers: [
        ["content-type", "application/json"],
        ["x-order", String(count)],
      ] as const,
      body: encoder.encode(JSON.stringify({ count, method: request.method, body: text })),
    });
    switch (route) {
      case "/orders":
        return json(201);
      case "/stream":
        return {
          status: 201,
          headers: [["content-type", "text/plain"]],
          body: pieces([`piece 1 of execution ${count}\n`, "piece 2\n", "piece 3\n"]),
        };
      case "/slow":
        await this.slow.wait();
        return json(201);
      case "/slow-upload":
        await this.slow.wait();
        return uploaded(count, request.body);
      case "/upload":
        return uploaded(count, request.body);
      case "/fail":
        throw new Error("handler failed");
      case "/unavailable":
        return json(503);
      case "/declined": {
        const answer = json(201);
        return { ...answer, headers: [...answer.headers, ["x-idempotency-store", "no"]] };
      }
      case "/big":
        return { status: 201, headers: [["content-type", "application/octet-stream"]], body: big(count) };
      case "/abandoned":
        return {
          status: 201,
          headers: [["content-type", "text/plain"]],
          body: this.#abandonedBody(count),
        };
      default:
        return { status: 404, headers: [], body: encoder.encode("not found") };
    }
  }

  async *#abandonedBody(count: number): AsyncGenerator<Uint8Array> {
    yield encoder.encode(`first piece of execution ${count}\n`);
    await this.abandoned.wait();
    yield encoder.encode("written after the client left\n");
  }
}

function uploaded(count: number, body: Uint8Array): AppResponse {
  const sha256 = createHash("sha256").update(body).digest("hex");
  return {
    status: 201,
    headers: [["content-type", "application/json"]],
    body: encoder.encode(JSON.stringify({ count, length: body.length, sha256 })),
  };
}

async function* pieces(texts: readonly string[]): AsyncGenerator<Uint8Array> {
  for (const text of texts) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    yield encoder.encode(text);
  }
}

/** {@link BIG_BYTES} bytes of a pattern that depends on `count`, in 256 KiB chunks. */
async function* big(count: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < BIG_BYTES; offset += BIG_CHUNK) {
    const chunk = new Uint8Array(BIG_CHUNK);
    for (let i = 0; i < BIG_CHUNK; i += 4096) chunk[i] = (offset / BIG_CHUNK + i + count) & 0xff;
    yield chunk;
  }
}
