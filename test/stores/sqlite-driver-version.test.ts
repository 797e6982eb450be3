import { describe, expect, it } from "vitest";
import { IncompatibleDependencyError } from "../../src/core/errors.js";
import { checkDriverVersion } from "../../src/stores/sqlite/driver-version.js";

describe("the better-sqlite3 version check", () => {
  it("refuses the pairs that kill the process, naming the version to install", () => {
    for (const [node, driver, install] of [
      ["24.19.0", "12.6.2", "better-sqlite3@13"],
      ["24.21.0", "11.10.0", "better-sqlite3@13"],
      ["26.1.0", "12.0.0", "better-sqlite3@13"],
      ["20.19.0", "13.2.0", "better-sqlite3@12"],
      ["21.7.3", "13.0.0", "better-sqlite3@12"],
    ] as const) {
      const error = (() => {
        try {
          checkDriverVersion(node, driver);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error, `${node} with ${driver}`).toBeInstanceOf(IncompatibleDependencyError);
      expect((error as IncompatibleDependencyError).install).toBe(install);
      expect((error as Error).message).toContain(`better-sqlite3 ${driver} on Node.js ${node}`);
    }
  });

  it("accepts the pairs that work, and the driver installed here", () => {
    for (const [node, driver] of [
      ["20.19.0", "12.6.2"],
      ["22.12.0", "12.6.2"],
      ["22.12.0", "13.2.0"],
      ["24.18.1", "12.6.2"],
      ["24.21.0", "13.2.0"],
    ] as const) {
      expect(() => checkDriverVersion(node, driver), `${node} with ${driver}`).not.toThrow();
    }
    expect(() => checkDriverVersion()).not.toThrow();
  });
});
