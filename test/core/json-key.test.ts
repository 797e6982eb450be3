import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../../src/core/errors.js";
import { jsonBodyKey } from "../../src/core/json-key.js";
import type { IncomingRequest } from "../../src/core/request.js";

const withBody = (body?: string): IncomingRequest => ({
  method: "POST",
  path: "/",
  header: () => [],
  ...(body === undefined ? {} : { body: new TextEncoder().encode(body) }),
});

describe("jsonBodyKey", () => {
  it("reads a top-level member by name, even one that starts like a pointer would not", () => {
    const key = jsonBodyKey("idempotency_key");
    expect(key(withBody('{"idempotency_key":"k1"}'))).toBe("k1");
    expect(jsonBodyKey("a~b")(withBody('{"a~b":"k2"}'))).toBe("k2");
  });

  it("walks a JSON pointer, with ~1 for / and ~0 for ~", () => {
    expect(jsonBodyKey("/meta/idempotency_key")(withBody('{"meta":{"idempotency_key":"k3"}}'))).toBe("k3");
    expect(jsonBodyKey("/a~1b/c~0d")(withBody('{"a/b":{"c~d":"k4"}}'))).toBe("k4");
    expect(jsonBodyKey("/~01")(withBody('{"~1":"k5","/":"wrong"}'))).toBe("k5");
  });

  it("finds no key in a missing, empty or non-JSON body, or where the field is absent or null", () => {
    const key = jsonBodyKey("/meta/id");
    for (const body of [undefined, "", "not json", '{"meta":null}', '{"meta":"text"}', '{"other":1}'])
      expect(key(withBody(body)), String(body)).toBeUndefined();
    expect(key(withBody('{"meta":{"id":null}}'))).toBeUndefined();
    // Inherited names are not members.
    expect(jsonBodyKey("toString")(withBody("{}"))).toBeUndefined();
  });

  it("hands any other value to the engine, which decides whether it is a valid key", () => {
    expect(jsonBodyKey("id")(withBody('{"id":42}'))).toBe(42);
    expect(jsonBodyKey("id")(withBody('{"id":{"x":1}}'))).toEqual({ x: 1 });
  });

  it("rejects an empty field and pointers that RFC 6901 does not allow", () => {
    for (const field of ["", "/", "/a~", "/a~2b", 7 as never])
      expect(() => jsonBodyKey(field), String(field)).toThrow(InvalidOptionError);
    expect(() => jsonBodyKey("")).toThrow('options.keyJson must name a field or be a JSON pointer, got ""');
    expect(() => jsonBodyKey("/a~2")).toThrow("options.keyJson is not a valid JSON pointer (RFC 6901): /a~2");
  });
});
