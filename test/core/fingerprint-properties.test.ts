// The default fingerprint and the credential scope, property-based: two requests share a
// fingerprint exactly when the parts it covers are equal, including requests built to slip
// through a sloppy encoding (the same bytes split differently between method, path and body).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BodyFingerprintHasher, credentialScope, requestFingerprint } from "../../src/core/hashing.js";
import type { IncomingRequest } from "../../src/core/request.js";

interface Parts {
  readonly method: string;
  readonly path: string;
  readonly body: Uint8Array | undefined;
}

const request = ({ method, path, body }: Parts, headers: Record<string, string[]> = {}): IncomingRequest => ({
  method,
  path,
  header: (name) => headers[name] ?? [],
  ...(body === undefined ? {} : { body }),
});
const ALL = { method: true, path: true, body: true };
const fingerprint = (parts: Parts, covered = ALL) => requestFingerprint(request(parts), covered);

const textUnit = fc.oneof(
  fc.constantFrom("P", "O", "S", "T", "/", ":", "m", "p", "b", "1", "0", "é", "\u{1f600}"),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);
const text = fc.string({ unit: textUnit, maxLength: 12 });
const body = fc.option(fc.uint8Array({ maxLength: 12 }), { nil: undefined });
const parts = fc.record({ method: text, path: text, body });

/** The same characters cut at two other places into method, path and body. */
const resplit = fc
  .tuple(fc.string({ unit: textUnit, maxLength: 16 }), fc.nat(), fc.nat(), fc.nat(), fc.nat())
  .map(([all, a, b, c, d]): [Parts, Parts] => {
    const cut = (x: number, y: number): Parts => {
      const [i, j] = [x % (all.length + 1), y % (all.length + 1)].sort((l, r) => l - r) as [number, number];
      return { method: all.slice(0, i), path: all.slice(i, j), body: Buffer.from(all.slice(j)) };
    };
    return [cut(a, b), cut(c, d)];
  });

const byteLength = (value: string) => Buffer.byteLength(value);
/**
 * Two different requests whose parts, run together, read the same if a part's length prefix
 * were left out: the text of the encoding of one part smuggled into its neighbour.
 */
const smuggled = fc
  .tuple(text, text, text, fc.constantFrom("method", "path"))
  .map(([a, b, c, into]): [Parts, Parts] => {
    if (into === "method") {
      const x = { method: a, path: `${b}p:${byteLength(c)}:${c}`, body: undefined };
      return [x, { method: `${a}p:${byteLength(x.path)}:${b}`, path: c, body: undefined }];
    }
    // The body runs to the end unprefixed: only the path's prefix tells these apart.
    return [
      { method: "POST", path: a, body: Buffer.from(`${b}b:${c}`) },
      { method: "POST", path: `${a}b:${b}`, body: Buffer.from(c) },
    ];
  });

const sameBytes = (x: Uint8Array | undefined, y: Uint8Array | undefined) =>
  Buffer.from(x ?? []).equals(Buffer.from(y ?? []));
const sameParts = (x: Parts, y: Parts) =>
  x.method === y.method && x.path === y.path && sameBytes(x.body, y.body);

describe("requestFingerprint, property-based", () => {
  it("is equal for two requests exactly when method, path and body are equal", () => {
    fc.assert(
      fc.property(parts, parts, (x, y) => {
        expect(fingerprint(x) === fingerprint(y)).toBe(sameParts(x, y));
      }),
      { numRuns: 3000 },
    );
  });

  it("tells apart the same characters split differently between method, path and body", () => {
    fc.assert(
      fc.property(resplit, ([x, y]) => {
        expect(fingerprint(x) === fingerprint(y)).toBe(sameParts(x, y));
      }),
      { numRuns: 3000 },
    );
  });

  it("tells apart requests built to collide if a length prefix were missing", () => {
    fc.assert(
      fc.property(smuggled, ([x, y]) => {
        expect(fingerprint(x)).not.toBe(fingerprint(y));
      }),
    );
  });

  it("ignores exactly the parts it is told not to cover", () => {
    const covered = fc.record({ method: fc.boolean(), path: fc.boolean(), body: fc.boolean() });
    fc.assert(
      fc.property(parts, parts, covered, (x, y, cover) => {
        const equal =
          (!cover.method || x.method === y.method) &&
          (!cover.path || x.path === y.path) &&
          (!cover.body || sameBytes(x.body, y.body));
        expect(fingerprint(x, cover) === fingerprint(y, cover)).toBe(equal);
      }),
      { numRuns: 3000 },
    );
  });

  it("does not depend on the buffer the body arrives in", () => {
    fc.assert(
      fc.property(parts, fc.uint8Array({ maxLength: 8 }), (x, padding) => {
        if (x.body === undefined) return;
        // The same bytes as a view into the middle of a larger buffer.
        const larger = Buffer.concat([padding, x.body, padding]);
        const view = larger.subarray(padding.length, padding.length + x.body.length);
        expect(fingerprint({ ...x, body: view })).toBe(fingerprint(x));
      }),
    );
  });
});

describe("BodyFingerprintHasher, property-based", () => {
  it("gives what requestFingerprint gives for the whole body, however the body is cut", () => {
    const cuts = fc.array(fc.nat(), { maxLength: 6 });
    fc.assert(
      fc.property(parts, fc.uint8Array({ maxLength: 64 }), cuts, (x, body, at) => {
        const hasher = new BodyFingerprintHasher(x, ALL);
        const points = [...new Set(at.map((n) => n % (body.length + 1)))].sort((l, r) => l - r);
        let start = 0;
        for (const point of [...points, body.length]) {
          hasher.update(body.subarray(start, point));
          start = point;
        }
        expect(hasher.digest()).toBe(fingerprint({ ...x, body }));
      }),
      { numRuns: 2000 },
    );
  });

  it("gives an empty body the fingerprint of a request without one", () => {
    fc.assert(
      fc.property(parts, (x) => {
        expect(new BodyFingerprintHasher(x, ALL).digest()).toBe(fingerprint({ ...x, body: undefined }));
      }),
    );
  });
});

describe("credentialScope, property-based", () => {
  it("gives two requests one scope exactly when their credential lines are equal, and never holds the credential", () => {
    // HTTP field lines never hold a line break (Node refuses them).
    const line = fc.string({ unit: textUnit, minLength: 1, maxLength: 10 }).filter((l) => !/[\r\n]/.test(l));
    const lines = fc.array(line, { maxLength: 2 });
    fc.assert(
      fc.property(lines, lines, (x, y) => {
        const scope = (credential: string[]) =>
          credentialScope(
            request({ method: "POST", path: "/", body: undefined }, { authorization: credential }),
            "authorization",
          );
        const [sx, sy] = [scope(x), scope(y)];
        expect(sx === sy).toBe(JSON.stringify(x) === JSON.stringify(y));
        expect(sx === "anonymous").toBe(x.length === 0);
        for (const credential of x) if (credential.length >= 8) expect(sx).not.toContain(credential);
      }),
      { numRuns: 2000 },
    );
  });
});
