// A renamed option keeps its old name as an alias; giving both with different values is a
// mistake to point out, not a choice to make silently.
import { describe, expect, it } from "vitest";
import { InvalidOptionError } from "../../src/core/errors.js";
import { renamedOption } from "../../src/core/renamed-option.js";

type Options = { purgeInterval?: number; purgeIntervalMs?: number };
const read = (options: Options) => renamedOption(options, "purgeInterval", "purgeIntervalMs");

describe("renamedOption", () => {
  it("takes the new name, else the old one, else nothing", () => {
    expect(read({ purgeInterval: 5 })).toBe(5);
    expect(read({ purgeIntervalMs: 7 })).toBe(7);
    expect(read({ purgeInterval: 0, purgeIntervalMs: 0 })).toBe(0);
    expect(read({ purgeInterval: 9, purgeIntervalMs: 9 })).toBe(9);
    expect(read({})).toBeUndefined();
  });

  it("refuses both names with different values, naming both", () => {
    expect(() => read({ purgeInterval: 5, purgeIntervalMs: 7 })).toThrow(
      new InvalidOptionError(
        "purgeInterval and purgeIntervalMs (its deprecated name) are both given, with different values (5 and 7): give purgeInterval only",
      ),
    );
    expect(() => read({ purgeInterval: 5, purgeIntervalMs: 7 })).toThrow(InvalidOptionError);
    // Object.is: 0 and -0 differ, NaN equals NaN.
    expect(() => read({ purgeInterval: 0, purgeIntervalMs: -0 })).toThrow(InvalidOptionError);
    expect(read({ purgeInterval: Number.NaN, purgeIntervalMs: Number.NaN })).toBeNaN();
  });
});
