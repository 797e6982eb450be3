// Which response headers are kept for replays, and when a handler declined storing.
import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../src/core/options.js";
import { statusHasNoBody, storableHeaders, storeDeclined } from "../../src/core/response-headers.js";
import { createStore } from "../../src/index.js";
import type { HeaderPair } from "../../src/store.js";

describe("response headers", async () => {
  const store = await createStore("memory:");
  const defaults = resolveOptions({ store });

  it("keeps the others in order, repeats included, with names lower-cased", () => {
    const headers: HeaderPair[] = [
      ["Content-Type", "text/plain"],
      ["X-Order", "1"],
      ["x-order", "2"],
      ["Date", "Sat, 05 Dec 2026 21:00:00 GMT"],
      ["Transfer-Encoding", "chunked"],
      ["Content-Length", "4"],
      ["Set-Cookie", "session=secret"],
      ["X-Idempotency-Store", "yes"],
    ];
    expect(storableHeaders(headers, defaults)).toEqual([
      ["content-type", "text/plain"],
      ["x-order", "1"],
      ["x-order", "2"],
    ]);
  });

  it("drops the headers every Connection field names", () => {
    const headers: HeaderPair[] = [
      ["connection", "X-Hop, keep-alive"],
      ["Connection", " x-other "],
      ["x-hop", "a"],
      ["X-Other", "b"],
      ["x-end", "c"],
      // Only Connection names headers: another header's value naming one drops nothing.
      ["x-refers-to", "x-end"],
    ];
    expect(storableHeaders(headers, defaults)).toEqual([
      ["x-end", "c"],
      ["x-refers-to", "x-end"],
    ]);
  });

  it("keeps only allowed headers, and never denied ones", () => {
    const options = resolveOptions({
      store,
      responseHeaders: { deny: ["X-Secret"], allow: ["Content-Type", "X-Secret"] },
    });
    const headers: HeaderPair[] = [
      ["content-type", "text/plain"],
      ["x-secret", "s"],
      ["set-cookie", "s=1"],
      ["x-other", "o"],
    ];
    expect(storableHeaders(headers, options)).toEqual([["content-type", "text/plain"]]);
  });

  it("declines storing only on the store header's value `no`, in any case and spacing", () => {
    const declined = (value: string, name = "X-Idempotency-Store") =>
      storeDeclined(
        [
          ["a", "b"],
          [name, value],
        ],
        defaults,
      );
    expect([" No ", "NO", "no"].map((value) => declined(value))).toEqual([true, true, true]);
    expect(["yes", "", "nope", "n o"].map((value) => declined(value))).toEqual([false, false, false, false]);
    expect(declined("no", "x-other")).toBe(false);
    expect(storeDeclined([], defaults)).toBe(false);
  });

  it("knows the statuses that never have a body", () => {
    expect([100, 199, 204, 304].map(statusHasNoBody)).toEqual([true, true, true, true]);
    expect([200, 201, 205, 303, 305, 404].map(statusHasNoBody)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
