// Raw bytes on a loopback socket at `oncely serve` and at an Express app guarded by oncely, each
// in a process of its own on a SQLite store: malformed and huge headers, non-ASCII bytes,
// repeated key headers, bodies cut off half-way, bad framing, requests trickled in pieces.
// Every answer is a 2xx or a 4xx, every connection ends, the process lives on and serves,
// no key executes twice and no record is left in flight. Bounded: a fixed number of runs.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../../src/index.js";
import { type InspectableStore, isInspectable } from "../../src/store.js";
import { startGateway, startUpstream, type Upstream } from "../gateway/helpers.js";
import { send } from "../helpers/http.js";
import { type Child, startChild } from "../helpers/processes.js";
import { rawExchange } from "../helpers/raw-http.js";
import { completion, temporaryDirectory } from "../helpers/stores.js";

/** Runs per target; each is one connection. */
const RUNS = 150;
const CRLF = "\r\n";

/** The keys the fuzzed requests use, few enough that they meet again and again. */
const POOL = Array.from({ length: 6 }, (_, i) => `fuzz-${randomUUID()}-${i}`);

const bytes = (text: string) => Buffer.from(text, "latin1");
const highBytes = fc
  .uint8Array({ minLength: 1, maxLength: 8 })
  .map((array) => Buffer.from(array.map((b) => b | 0x80)));

/** One request as raw pieces; `complete` when a well-behaved client could have sent it. */
interface Wire {
  readonly head: Buffer;
  readonly body: Buffer;
  readonly complete: boolean;
}

/** Mostly `usual`, now and then `odd`: most requests carry one anomaly, not five at once. */
const mostly = <T>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: usual }, { weight: 1, arbitrary: odd });

const method = mostly(
  fc.constantFrom("POST", "POST", "PATCH"),
  fc.constantFrom("GET", "post", "P\x00ST", "PO ST", "X".repeat(300)),
);
const path = mostly(
  fc.constantFrom("/orders", "/v1/items", "/orders?x=1&x=2"),
  fc.oneof(
    fc.constantFrom("/%zz", "*", "http://127.0.0.1/orders", "/"),
    highBytes.map((b) => `/orders/${b.toString("latin1")}`),
    fc.constant(`/orders?${"q".repeat(20_000)}`),
  ),
);
const version = mostly(fc.constant("HTTP/1.1"), fc.constantFrom("HTTP/1.0", "HTTP/9.9", "HTTP/1.1 extra"));
const poolKey = fc.constantFrom(...POOL);
/** Idempotency-Key header lines: none, valid, repeated, odd. */
const keyLines = fc.oneof(
  fc.constant([] as string[]),
  poolKey.map((key) => [`Idempotency-Key: ${key}`]),
  poolKey.map((key) => [`idempotency-key: "${key}"`]),
  poolKey.map((key) => [`Idempotency-Key: ${key}`, `Idempotency-Key: ${key}`]),
  poolKey.map((key) => [`Idempotency-Key: ${key}, other`]),
  fc.constant(["Idempotency-Key:"]),
  fc.constant(['Idempotency-Key: "unterminated']),
  fc.constant(["Idempotency-Key: a\x01b"]),
  highBytes.map((b) => [`Idempotency-Key: k${b.toString("latin1")}`]),
  fc.constant([`Idempotency-Key: ${"k".repeat(20_000)}`]),
);
const otherLines = fc.array(
  mostly(
    fc.constantFrom("Content-Type: application/json", "Authorization: Bearer fuzz"),
    fc.oneof(
      highBytes.map((b) => `X-Odd: ${b.toString("latin1")}`),
      fc.constantFrom(
        `X-Huge: ${"h".repeat(70_000)}`,
        "No colon here",
        "Space : before colon",
        " folded continuation",
        "Expect: 100-continue",
      ),
    ),
  ),
  { maxLength: 2 },
);
/** Body framing: how many bytes the head announces against how many are sent. */
interface Framing {
  readonly lines: readonly string[];
  readonly body: string;
  readonly complete: boolean;
}
const framing = mostly<Framing>(
  fc.constantFrom(
    { lines: [], body: "", complete: true },
    { lines: ["Content-Length: 11"], body: '{"a":"b12"}', complete: true },
    { lines: ["Content-Length: 11"], body: "not json!!!", complete: true },
    {
      lines: ["Transfer-Encoding: chunked"],
      body: `5${CRLF}{"a":${CRLF}2${CRLF}1}${CRLF}0${CRLF}${CRLF}`,
      complete: true,
    },
  ),
  fc.constantFrom(
    { lines: ["Content-Length: 100"], body: '{"cut":', complete: false },
    { lines: ["Transfer-Encoding: chunked"], body: `20${CRLF}{"half":`, complete: false },
    { lines: ["Transfer-Encoding: chunked"], body: `zz${CRLF}junk${CRLF}`, complete: false },
    { lines: ["Content-Length: 2", "Transfer-Encoding: chunked"], body: `0${CRLF}${CRLF}`, complete: false },
    { lines: ["Content-Length: 2", "Content-Length: 3"], body: "abc", complete: false },
    { lines: ["Content-Length: -1"], body: "", complete: false },
  ),
);

const wire: fc.Arbitrary<Wire> = fc
  .record({ method, path, version, keyLines, otherLines, framing })
  .map(({ method, path, version, keyLines, otherLines, framing }) => {
    // The server closes after its answer, so that the client knows when it has all of it.
    const lines = [
      `${method} ${path} ${version}`,
      "Host: 127.0.0.1",
      "Connection: close",
      ...keyLines,
      ...otherLines,
      ...framing.lines,
    ];
    return {
      head: bytes(`${lines.join(CRLF)}${CRLF}${CRLF}`),
      body: bytes(framing.body),
      complete: framing.complete,
    };
  });

/** The request in pieces: at once, or cut at random places to be trickled. */
const sending = fc.record({
  request: wire,
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  gapMs: fc.constantFrom(0, 0, 5, 25),
});

function piecesOf(request: Wire, cuts: readonly number[]): Buffer[] {
  const all = Buffer.concat([request.head, request.body]);
  const at = [...new Set(cuts.map((cut) => cut % all.length))].sort((a, b) => a - b);
  return [0, ...at]
    .map((start, i) => all.subarray(start, at[i] ?? all.length))
    .filter((piece) => piece.length > 0);
}

/**
 * A head any HTTP/1.1 server must parse: a guarded method, a short origin-form target, token
 * header names, values of visible characters, spaces and obs-text, and a modest size. (A
 * request the server refuses may get no answer at all: its close can reset the connection
 * before the client reads the 400.)
 */
const WELL_FORMED =
  /^(?:POST|PATCH) \/[\x21-\x7e]{0,100} HTTP\/1\.1\r\n(?:[A-Za-z-]+: [\x20-\x7e\x80-\xff]{0,200}\r\n)*\r\n$/;

/** Run first, whatever the generator draws: one of each kind of answer. */
const EXAMPLES: Array<[{ request: Wire; cuts: number[]; gapMs: number }]> = [
  `Idempotency-Key: ${POOL[0]}`, // executed: 201
  "Idempotency-Key: a, b", // refused by oncely: 400 problem+json
  "No colon here", // refused by Node's parser: bare 400
].map((line) => [
  {
    request: {
      head: bytes(
        `POST /orders HTTP/1.1${CRLF}Host: x${CRLF}Connection: close${CRLF}${line}${CRLF}Content-Length: 2${CRLF}${CRLF}`,
      ),
      body: bytes("{}"),
      complete: true,
    },
    cuts: [],
    gapMs: 0,
  },
]);

interface Target {
  readonly port: number;
  readonly url: string;
  readonly child: Child;
  readonly storeUrl: string;
  /** Executions per idempotency key so far. */
  executions(): Map<string, number>;
}

/** Every `Authorization` line, as the default scope sees them (Node keeps only the first in `headers`). */
function credentialLines(rawHeaders: readonly string[]): string | undefined {
  const lines = rawHeaders.filter(
    (_, i) => i % 2 === 1 && rawHeaders[i - 1]?.toLowerCase() === "authorization",
  );
  return lines.length === 0 ? undefined : lines.join("\n");
}

/**
 * Executions per record: per credential (the default scope) and key, a quoted key counting
 * as the same key as its bare form. Requests without a key are not counted.
 */
const tally = (
  executions: ReadonlyArray<{ authorization?: string | undefined; key?: string | undefined }>,
) => {
  const counts = new Map<string, number>();
  for (const { authorization, key } of executions) {
    if (key === undefined) continue;
    const bare = key.replace(/^"(.*)"$/, "$1");
    const record = authorization === undefined ? bare : `${bare} (${authorization})`;
    counts.set(record, (counts.get(record) ?? 0) + 1);
  }
  return counts;
};

let upstream: Upstream;
const children: Child[] = [];
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await Promise.all(children.map((child) => child.stop("SIGKILL")));
  await upstream?.close();
});

const targets: Record<string, () => Promise<Target>> = {
  "oncely serve": async () => {
    const storeUrl = `sqlite:${join(temporaryDirectory(), "gateway.db")}`;
    const child = await startGateway([
      "--upstream",
      upstream.url,
      "--store",
      storeUrl,
      "--log-level",
      "warn",
    ]);
    children.push(child);
    const guarded = (method: string) => method === "POST" || method === "PATCH";
    return {
      ...child,
      child,
      storeUrl,
      executions: () =>
        tally(
          upstream.seen
            .filter((seen) => guarded(seen.method))
            .map(({ headers, rawHeaders }) => ({
              authorization: credentialLines(rawHeaders),
              key: headers["idempotency-key"] as string | undefined,
            })),
        ),
    };
  },
  "Express adapter": async () => {
    const dir = temporaryDirectory();
    const storeUrl = `sqlite:${join(dir, "express.db")}`;
    const counter = join(dir, "executions");
    const child = await startChild("test/fixtures/express-server.ts", [storeUrl, counter]);
    children.push(child);
    const lines = () => {
      try {
        return readFileSync(counter, "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    };
    return {
      ...child,
      child,
      storeUrl,
      executions: () =>
        tally(lines().map((line) => JSON.parse(line) as { authorization?: string; key?: string })),
    };
  },
};

/** Every record still in flight in the store, read through the store's own listing. */
async function inFlight(storeUrl: string): Promise<string[]> {
  const store = await createStore(storeUrl);
  try {
    if (!isInspectable(store)) throw new Error(`${storeUrl} cannot be listed`);
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await (store as InspectableStore).list({ limit: 500, ...(cursor ? { cursor } : {}) });
      keys.push(...page.records.filter((record) => record.state === "in_flight").map((record) => record.key));
      cursor = page.cursor;
    } while (cursor);
    return keys;
  } finally {
    await store.close();
  }
}

describe.each(Object.entries(targets))("raw bytes at %s", (_name, start) => {
  let target: Target;
  beforeAll(async () => {
    target = await start();
  });

  it("answers malformed, huge, repeated and cut-off requests with a 2xx or a 4xx, and survives", async () => {
    const answers = { success: 0, problem: 0, parser: 0 };
    await fc.assert(
      fc.asyncProperty(sending, async ({ request, cuts, gapMs }) => {
        // A complete request must be answered and closed within seconds; an incomplete one is
        // left after a moment, as a client that gave up (the server is waiting for the rest).
        const exchange = await rawExchange(
          target.port,
          piecesOf(request, cuts),
          gapMs,
          request.complete ? 5_000 : 300,
        );
        for (const status of exchange.statuses) {
          // 100 Continue answers `Expect: 100-continue`; every final answer is a 2xx or a 4xx.
          if (status === 100) continue;
          expect(status, exchange.received.toString("latin1").slice(0, 300)).toBeLessThan(500);
          expect(status).toBeGreaterThanOrEqual(200);
        }
        const text = exchange.received.toString("latin1");
        if (exchange.statuses.some((status) => status < 300)) answers.success++;
        // Refusals of Node's parser: bare, or problem+json where respondToClientError answers them.
        if (/problems\/(malformed-request|request-header-too-large)"/.test(text)) answers.parser++;
        else if (text.includes("application/problem+json")) answers.problem++;
        else if (exchange.statuses.some((status) => status >= 400)) answers.parser++;
        if (request.complete) {
          expect(
            exchange.closed,
            `the server held a complete request open; it sent ${JSON.stringify(text.slice(0, 300))}`,
          ).toBe(true);
        }
        if (request.complete && text.length === 0 && WELL_FORMED.test(request.head.toString("latin1"))) {
          expect.fail(
            `a well-formed request got no answer: ${JSON.stringify(request.head.toString("latin1"))}`,
          );
        }
        expect(target.child.process.exitCode).toBeNull();
      }),
      { numRuns: RUNS, endOnFailure: true, examples: EXAMPLES },
    );
    // The fuzzing reached both layers: oncely's engine (problem+json answers, and executions)
    // and Node's HTTP parser (bare 4xx refusals).
    expect(answers.problem).toBeGreaterThan(0);
    expect(answers.parser).toBeGreaterThan(0);
    expect(answers.success).toBeGreaterThan(0);

    // Still serving, and guarding: a fresh key executes once and replays.
    const key = `after-${randomUUID()}`;
    const first = await send(`${target.url}/orders`, { headers: { "idempotency-key": key }, body: "{}" });
    const replay = await send(`${target.url}/orders`, { headers: { "idempotency-key": key }, body: "{}" });
    expect([first.status, replay.status]).toEqual([201, 201]);
    expect(replay.headers.get("x-idempotency-replayed")).toBe("true");

    // No key ran twice, and none is left in flight once the handlers are done.
    const counts = target.executions();
    const twice = [...counts].filter(([, count]) => count > 1);
    expect(twice).toEqual([]);
    let stuck = await inFlight(target.storeUrl);
    for (let waited = 0; stuck.length > 0 && waited < 5_000; waited += 200) {
      await sleep(200);
      stuck = await inFlight(target.storeUrl);
    }
    expect(stuck).toEqual([]);
  }, 180_000);

  it("executes and stores the request of a client that half-closes, so its retry is a replay", async () => {
    const key = `half-${randomUUID()}`;
    const socket = connect(target.port, "127.0.0.1");
    await once(socket, "connect");
    socket.on("error", () => {});
    socket.resume();
    const closed = once(socket, "close");
    // The whole request, then FIN: Node's server takes the client for gone (it may get no answer).
    socket.end(
      bytes(
        `POST /orders HTTP/1.1${CRLF}Host: x${CRLF}Idempotency-Key: ${key}${CRLF}Content-Length: 2${CRLF}${CRLF}{}`,
      ),
    );
    await closed;
    const store = await createStore(target.storeUrl);
    try {
      await completion(store, key);
    } finally {
      await store.close();
    }
    const retry = await send(`${target.url}/orders`, { headers: { "idempotency-key": key }, body: "{}" });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("x-idempotency-replayed")).toBe("true");
    expect(target.executions().get(key)).toBe(1);
  }, 30_000);

  it("serves others while slow clients trickle their requests, then answers the trickles too", async () => {
    const keys = Array.from({ length: 10 }, () => `slow-${randomUUID()}`);
    const body = '{"slow":true}';
    const trickles = keys.map((key, i) => {
      const all = bytes(
        `POST /orders HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}Connection: close${CRLF}Idempotency-Key: ${key}${CRLF}Content-Type: application/json${CRLF}Content-Length: ${body.length}${CRLF}${CRLF}${body}`,
      );
      // Half of them stop for good half-way through the body: their keys must not stay held.
      const end = i % 2 === 0 ? all.length : all.length - 5;
      const pieces = Array.from({ length: Math.ceil(end / 8) }, (_, p) =>
        all.subarray(p * 8, Math.min(end, p * 8 + 8)),
      );
      return rawExchange(target.port, pieces, 15, i % 2 === 0 ? 5_000 : 500);
    });
    // While they trickle (about two seconds), a normal client is served at once.
    await sleep(300);
    const startedAt = Date.now();
    const normal = await send(`${target.url}/orders`, {
      headers: { "idempotency-key": `fast-${randomUUID()}` },
      body: "{}",
    });
    expect(normal.status).toBe(201);
    expect(Date.now() - startedAt).toBeLessThan(1_500);

    const results = await Promise.all(trickles);
    results.forEach((result, i) => {
      // The complete ones are answered; the server waits for the rest of the others, which left.
      if (i % 2 === 0) expect([result.closed, result.statuses]).toEqual([true, [201]]);
      else expect(result.statuses).toEqual([]);
    });
    // The cut-off ones were never claimed: their keys execute now, once.
    for (const [i, key] of keys.entries()) {
      const retry = await send(`${target.url}/orders`, {
        headers: { "idempotency-key": key, "content-type": "application/json" },
        body,
      });
      expect(retry.status).toBe(201);
      expect(retry.headers.get("x-idempotency-replayed")).toBe(i % 2 === 0 ? "true" : null);
    }
    expect(keys.map((key) => target.executions().get(key))).toEqual(keys.map(() => 1));
    expect(await inFlight(target.storeUrl)).toEqual([]);
  }, 60_000);
});
