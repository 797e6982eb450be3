// A decision says what it made of the request (reason, key and scope), and an execution says
// how it ended, so that an adapter can log and count each request without any hook.
import { expect, it } from "vitest";
import { createEngine, type Decision, type IncomingRequest } from "../../src/engine.js";
import { createStore } from "../../src/index.js";
import { newKey } from "../helpers/http.js";

function request(key: string | undefined, body: string): IncomingRequest {
  return {
    method: "POST",
    path: "/orders",
    header: (name) => (name === "idempotency-key" && key !== undefined ? [key] : []),
    body: Buffer.from(body),
  };
}

/** What a log line would say of a decision. */
function summary(decision: Decision) {
  return {
    action: decision.action,
    reason: "reason" in decision ? decision.reason : undefined,
    key: decision.event?.key,
    scope: typeof decision.event?.scope,
  };
}

it("reports reason and key with every decision, and the end of an execution, with no hooks set", async () => {
  const engine = createEngine({ store: await createStore("memory:"), wait: 0 });
  const key = newKey();
  const first = await engine.begin(request(key, "a"));
  expect(summary(first)).toEqual({ action: "execute", reason: undefined, key, scope: "string" });
  if (first.action !== "execute") throw new Error("expected an execution");
  expect(summary(await engine.begin(request(key, "a")))).toEqual({
    action: "respond",
    reason: "conflict",
    key,
    scope: "string",
  });
  const ends: boolean[] = [];
  first.execution.onEnded((stored) => ends.push(stored));
  await first.execution.respond(201, [], 2);
  first.execution.write(Buffer.from("ok"));
  await first.execution.finish();
  expect(ends).toEqual([true]);
  // Registered after the end: told at once.
  first.execution.onEnded((stored) => ends.push(stored));
  expect(ends).toEqual([true, true]);

  expect(summary(await engine.begin(request(key, "a")))).toEqual({
    action: "replay",
    reason: undefined,
    key,
    scope: "string",
  });
  expect(summary(await engine.begin(request(key, "b")))).toEqual({
    action: "respond",
    reason: "mismatch",
    key,
    scope: "string",
  });
  expect(summary(await engine.begin(request("", "a")))).toEqual({
    action: "respond",
    reason: "rejected",
    key: undefined,
    scope: "undefined",
  });
  expect(summary(await engine.begin(request(undefined, "a")))).toEqual({
    action: "pass",
    reason: "no-key",
    key: undefined,
    scope: "undefined",
  });

  const released = await engine.begin(request(newKey(), "a"));
  if (released.action !== "execute") throw new Error("expected an execution");
  const releases: boolean[] = [];
  released.execution.onEnded((stored) => releases.push(stored));
  expect(await released.execution.respond(500, [], 0)).toBe("pass");
  expect(releases).toEqual([false]);
});
