// A hook is observability: whatever it does, throwing or rejecting, the request goes on.
import { describe, expect, it } from "vitest";
import { emit } from "../../src/core/hooks.js";

describe("emit", () => {
  it("calls the hook with the event, and does nothing without one", () => {
    const seen: unknown[] = [];
    emit((event: string) => void seen.push(event), "executed");
    emit<string>(undefined, "nobody listens");
    expect(seen).toEqual(["executed"]);
  });

  it("swallows a hook that throws, and one whose promise rejects", async () => {
    expect(() =>
      emit(() => {
        throw new Error("a broken logger");
      }, "event"),
    ).not.toThrow();
    // What the hook returns is given a rejection handler, so that its rejection is never unhandled.
    const handlers: unknown[] = [];
    const rejecting = Promise.reject(new Error("a broken async logger"));
    emit(
      () =>
        Object.assign(rejecting, {
          catch: (handler: (reason: unknown) => unknown) => {
            handlers.push(handler);
            return Promise.prototype.catch.call(rejecting, handler);
          },
        }),
      "event",
    );
    expect(handlers).toHaveLength(1);
    await rejecting.catch(() => {});
  });
});
