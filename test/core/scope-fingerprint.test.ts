// The default scope and fingerprint are stored with every record, so they must be the same
// in every release: during a rolling deploy, or after an upgrade, an instance that computed
// them differently would miss its own records (a retry would run again) or see a mismatch.
// Hence the exact inputs below, hashed here independently of the code.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ANONYMOUS_SCOPE, credentialScope, requestFingerprint } from "../../src/core/hashing.js";
import type { IncomingRequest } from "../../src/core/request.js";

const sha256 = (input: string | Buffer) => createHash("sha256").update(input).digest("base64url");
const everything = { method: true, path: true, body: true };

function request(headers: Record<string, string[]>, body?: string): IncomingRequest {
  const header = (name: string) => headers[name] ?? [];
  const path = "/orders/é?x=1";
  return body === undefined
    ? { method: "POST", path, header }
    : { method: "POST", path, header, body: new TextEncoder().encode(body) };
}

describe("requestFingerprint", () => {
  it("hashes the method and path with their lengths in UTF-8 bytes, then the body as it is", () => {
    const head = "m:4:POSTp:14:/orders/é?x=1";
    expect(requestFingerprint(request({}, '{"a":1}'), everything)).toBe(sha256(`${head}b:{"a":1}`));
    expect(requestFingerprint(request({}), everything)).toBe(sha256(`${head}b:`));
    expect(requestFingerprint(request({}, "x"), { method: true, path: true, body: false })).toBe(
      sha256(head),
    );
    expect(requestFingerprint(request({}, "x"), { method: false, path: false, body: true })).toBe(
      sha256("b:x"),
    );
  });
});

describe("credentialScope", () => {
  it("hashes every line of the credential header, as every release does", () => {
    const scope = credentialScope(request({ authorization: ["Bearer a", "Bearer b"] }), "authorization");
    expect(scope).toBe(`cred:${sha256("Bearer a\nBearer b\n")}`);
  });

  it("puts requests without the credential in the anonymous scope", () => {
    expect(credentialScope(request({}), "authorization")).toBe(ANONYMOUS_SCOPE);
    // A pair without "=" names no cookie, even when the name is its beginning.
    expect(credentialScope(request({ cookie: ["other=1; sidx"] }), "authorization", "sid")).toBe(
      ANONYMOUS_SCOPE,
    );
  });

  it("prefers every value of the session cookie, over all Cookie lines, to the credential header", () => {
    const scope = credentialScope(
      request({
        cookie: ["theme=dark; sid=abc", " sid = def ;x=1", "novalue; sidx=2"],
        authorization: ["Bearer a"],
      }),
      "authorization",
      "sid",
    );
    expect(scope).toBe(`cookie:${sha256("abc\ndef\n")}`);
  });

  it("falls back to the credential header when the named cookie is not sent", () => {
    const scope = credentialScope(
      request({ cookie: ["theme=dark"], authorization: ["Bearer a"] }),
      "authorization",
      "sid",
    );
    expect(scope).toBe(`cred:${sha256("Bearer a\n")}`);
  });
});
