// The gateway in front of a Stripe-style API, driven by the official Stripe Node SDK: with
// `--error-format stripe` its own 409 and 422 surface as the SDK's own errors. With the
// default problem+json the SDK takes them for successful calls (the reason for the setting).
import type http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen, newKey, readBody, type TestServer } from "../helpers/http.js";
import { type GatewayProcess, startGateway } from "./helpers.js";

/** A tiny Stripe-style charges API; a charge of 7000 or more takes 800 ms, to be in flight when its duplicate comes. */
async function startFakeStripe(): Promise<TestServer & { charges: () => number }> {
  let charges = 0;
  const server = await listen(async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const params = new URLSearchParams((await readBody(req)).toString());
    const amount = Number(params.get("amount"));
    if (amount >= 7000) await sleep(800);
    charges++;
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({ id: `ch_${charges}`, object: "charge", amount, currency: params.get("currency") }),
    );
  });
  return { ...server, charges: () => charges };
}

function sdk(gateway: GatewayProcess): Stripe {
  const { port } = new URL(gateway.url);
  // No automatic retries: the SDK retries a 409 by itself, which would hide it.
  return new Stripe("sk_test_oncely", {
    host: "127.0.0.1",
    port: Number(port),
    protocol: "http",
    maxNetworkRetries: 0,
  });
}

describe("the Stripe Node SDK through the gateway", () => {
  let upstream: Awaited<ReturnType<typeof startFakeStripe>>;
  let stripeShaped: GatewayProcess;
  let problemShaped: GatewayProcess;

  beforeAll(async () => {
    upstream = await startFakeStripe();
    const common = ["--upstream", upstream.url, "--store", "memory:", "--log-level", "warn"];
    [stripeShaped, problemShaped] = await Promise.all([
      startGateway([...common, "--error-format", "stripe"]),
      startGateway(common),
    ]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([stripeShaped?.stop("SIGKILL"), problemShaped?.stop("SIGKILL")]);
    await upstream?.close();
  });

  it("replays a charge retried with its key, and raises a reused key (422) as StripeIdempotencyError", async () => {
    const stripe = sdk(stripeShaped);
    const idempotencyKey = newKey();
    const first = await stripe.charges.create({ amount: 100, currency: "usd" }, { idempotencyKey });
    const again = await stripe.charges.create({ amount: 100, currency: "usd" }, { idempotencyKey });
    expect(again.id).toBe(first.id);
    const reused = stripe.charges.create({ amount: 200, currency: "usd" }, { idempotencyKey });
    await expect(reused).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    await expect(reused).rejects.toMatchObject({ statusCode: 422, code: "key_reused" });
  });

  it("raises a duplicate of a charge in flight (409) as StripeIdempotencyError", async () => {
    const stripe = sdk(stripeShaped);
    const idempotencyKey = newKey();
    const first = stripe.charges.create({ amount: 7000, currency: "usd" }, { idempotencyKey });
    await sleep(300);
    const duplicate = stripe.charges.create({ amount: 7000, currency: "usd" }, { idempotencyKey });
    await expect(duplicate).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    await expect(duplicate).rejects.toMatchObject({ statusCode: 409, code: "request_in_progress" });
    expect((await first).id).toMatch(/^ch_/);
  });

  it("with the default problem+json, the SDK takes the 422 for a charge without an id", async () => {
    const stripe = sdk(problemShaped);
    const idempotencyKey = newKey();
    await stripe.charges.create({ amount: 100, currency: "usd" }, { idempotencyKey });
    const reused = await stripe.charges.create({ amount: 200, currency: "usd" }, { idempotencyKey });
    expect(reused.id).toBeUndefined();
    expect(reused.lastResponse.statusCode).toBe(422);
  });
});
