// A client that sends a whole request and leaves while its claim is still on its way to the
// store: the upstream call goes ahead (docs/gateway.md promises it), its answer is stored,
// and the retry is a replay — the key is never pinned until the upstream timeout. Stores
// that answer over the network sit behind a TCP proxy that delays every byte.
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { createStore } from "../../src/index.js";
import { type DelayProxy, startDelayProxy } from "../helpers/delay-proxy.js";
import { newKey, send } from "../helpers/http.js";
import { serviceUrl } from "../helpers/services.js";
import { startUpstream, type Upstream } from "./helpers.js";

const servers = [
  {
    name: "redis",
    url: serviceUrl("ONCELY_TEST_REDIS_URL", "a client that leaves while its claim is on its way to redis"),
  },
  {
    name: "postgres",
    url: serviceUrl(
      "ONCELY_TEST_POSTGRES_URL",
      "a client that leaves while its claim is on its way to postgres",
    ),
  },
].filter((server): server is { name: string; url: string } => server.url !== undefined);

const CLAIM_DELAY_MS = 300;

/** Sends a whole request on a raw socket and closes the connection `leaveAfterMs` later, unanswered. */
async function sendAndLeave(url: string, key: string, body: string, leaveAfterMs: number): Promise<void> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(
    `POST /charges HTTP/1.1\r\nHost: 127.0.0.1\r\nIdempotency-Key: ${key}\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  await sleep(leaveAfterMs);
  socket.destroy();
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

describe.each(servers)("a client that leaves while its claim is on its way to $name", ({ url }) => {
  let upstream: Upstream;
  let proxy: DelayProxy;
  let gateway: Gateway;
  let gatewayUrl: string;
  /** Fingerprints without the body, so nobody reads the body before the claim's answer. */
  let bodyless: Gateway;
  let bodylessUrl: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    const target = new URL(url);
    proxy = await startDelayProxy({ host: target.hostname, port: Number(target.port) }, 0);
    target.port = String(proxy.port);
    gateway = createGateway({ upstream: upstream.url, store: await createStore(target.href) });
    const { port } = await gateway.listen(0, "127.0.0.1");
    gatewayUrl = `http://127.0.0.1:${port}`;
    bodyless = createGateway({
      upstream: upstream.url,
      store: await createStore(target.href),
      fingerprint: { body: false },
    });
    bodylessUrl = `http://127.0.0.1:${(await bodyless.listen(0, "127.0.0.1")).port}`;
    await send(bodylessUrl, { headers: { "idempotency-key": newKey() } });
    // Warm the store's connection up before every byte to it starts waiting.
    await send(gatewayUrl, { headers: { "idempotency-key": newKey() } });
  }, 30_000);

  afterAll(async () => {
    for (const each of [gateway, bodyless]) {
      await each?.close(0);
      await each?.engine.options.store.close();
    }
    await proxy?.close();
    await upstream?.close();
  });

  it("forwards the request, stores the answer, and replays it to the retry", async () => {
    proxy.delayMs = CLAIM_DELAY_MS;
    try {
      const key = newKey();
      const before = upstream.count();
      // The whole request is in; the client leaves long before the claim's answer comes back.
      await sendAndLeave(gatewayUrl, key, "amount=100", CLAIM_DELAY_MS / 3);
      await until(() => upstream.count() === before + 1, 10_000);
      expect(upstream.seen.at(-1)?.body.toString()).toBe("amount=100");

      let retry = await send(`${gatewayUrl}/charges`, {
        headers: { "idempotency-key": key, "content-type": "text/plain" },
        body: "amount=100",
      });
      for (let i = 0; i < 50 && retry.status === 409; i++) {
        await sleep(100);
        retry = await send(`${gatewayUrl}/charges`, {
          headers: { "idempotency-key": key, "content-type": "text/plain" },
          body: "amount=100",
        });
      }
      expect(retry.status).toBe(201);
      expect(retry.headers.get("x-idempotency-replayed")).toBe("true");
      expect(upstream.count()).toBe(before + 1);
    } finally {
      proxy.delayMs = 0;
    }
  }, 30_000);

  it("releases the key when the body left with the client unread, so the retry executes", async () => {
    proxy.delayMs = CLAIM_DELAY_MS;
    try {
      const key = newKey();
      const before = upstream.count();
      await sendAndLeave(bodylessUrl, key, "amount=100", CLAIM_DELAY_MS / 3);
      // The claim's answer has come back and been acted on by now.
      await sleep(CLAIM_DELAY_MS * 4);
      const retry = await send(`${bodylessUrl}/charges`, {
        headers: { "idempotency-key": key },
        body: "amount=100",
      });
      expect(retry.status).toBe(201);
      expect(retry.headers.get("x-idempotency-replayed")).toBeNull();
      expect(upstream.count()).toBe(before + 1);
    } finally {
      proxy.delayMs = 0;
    }
  }, 30_000);
});
