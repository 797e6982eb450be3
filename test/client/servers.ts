// Real loopback servers for the client tests: one that answers a script of statuses and
// records every attempt, and one that executes uploads (optionally behind oncely) and counts.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { withIdempotency } from "../../src/adapters/node/index.js";
import { createStore } from "../../src/index.js";
import { listen, readBody, type TestServer } from "../helpers/http.js";

/** One request as the server saw it. */
export interface Attempt {
  readonly key: string | undefined;
  readonly at: number;
  readonly body: Buffer;
  readonly headers: IncomingMessage["headers"];
}

/** What the scripted server answers to one attempt. */
export interface Cue {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Milliseconds to wait before answering. */
  readonly delay?: number;
}

export interface ScriptedServer extends TestServer {
  readonly attempts: Attempt[];
}

/** Answers the n-th request with `cues[n]`, and every later one with the last cue. */
export async function scriptedServer(cues: readonly Cue[]): Promise<ScriptedServer> {
  const attempts: Attempt[] = [];
  const server = await listen(async (req, res) => {
    const body = await readBody(req);
    const key = req.headers["idempotency-key"];
    attempts.push({
      key: typeof key === "string" ? key : undefined,
      at: Date.now(),
      body,
      headers: req.headers,
    });
    const cue = cues[Math.min(attempts.length, cues.length) - 1] as Cue;
    if (cue.delay) await new Promise((resolve) => setTimeout(resolve, cue.delay));
    res.writeHead(cue.status, cue.headers ?? {});
    res.end(cue.body ?? `answer ${attempts.length}`);
  });
  return { ...server, attempts };
}

/** An upload endpoint that transforms each body and counts executions per body. */
export interface UploadServer extends TestServer {
  /** Handler executions, all bodies together. */
  executions(): number;
  /** Handler executions per SHA-256 of the body. */
  readonly perBody: Map<string, number>;
  /** The most executions that were running at the same time. */
  maxInFlight(): number;
  /** Requests whose handler started but did not finish yet. */
  inFlight(): number;
}

/** What the upload endpoint answers for a body: deterministic, so outputs can be checked. */
export function transformed(body: Buffer): string {
  return `${createHash("sha256").update(body).digest("hex")}\n${body.toString("utf8").toUpperCase()}`;
}

export const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/**
 * @param guarded wrap the handler with oncely (memory store), so a key executes once
 * @param delay milliseconds each execution takes, so a batch can be killed mid-way
 * @param respond overrides the answer for some bodies (e.g. a 422 for a bad file)
 */
export async function uploadServer(
  options: { guarded: boolean; delay?: number; respond?: (body: Buffer, res: ServerResponse) => boolean } = {
    guarded: false,
  },
): Promise<UploadServer> {
  const perBody = new Map<string, number>();
  let running = 0;
  let most = 0;
  let total = 0;
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    // A client killed mid-upload aborts the body; that request never executes.
    const body = await readBody(req).catch(() => undefined);
    if (!body) return;
    total++;
    running++;
    most = Math.max(most, running);
    perBody.set(sha256(body), (perBody.get(sha256(body)) ?? 0) + 1);
    try {
      if (options.delay) await new Promise((resolve) => setTimeout(resolve, options.delay));
      if (options.respond?.(body, res)) return;
      res.writeHead(201, { "content-type": "text/plain" });
      res.end(transformed(body));
    } finally {
      running--;
    }
  };
  const listener = options.guarded
    ? withIdempotency(handler, { store: await createStore("memory:") })
    : handler;
  const server = await listen(listener);
  return { ...server, perBody, executions: () => total, maxInFlight: () => most, inFlight: () => running };
}
