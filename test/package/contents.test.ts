import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { packProject, projectRoot } from "../helpers/package.js";

const manifest = JSON.parse(readFileSync(`${projectRoot}/package.json`, "utf8")) as { license: string };

describe("the package npm pack makes from a checkout without dist/", () => {
  it("holds the build that its prepare script made: every export's entry point and the command", () => {
    const { files } = packProject();
    expect(files).toContain("dist/index.js");
    expect(files).toContain("dist/index.d.ts");
    expect(files).toContain("dist/cli/main.js");
  }, 240_000);

  it("ships no source map, since src/ is not shipped", () => {
    const { files } = packProject();
    expect(files.filter((file) => file.endsWith(".map"))).toEqual([]);
    expect(files.filter((file) => file.startsWith("src/"))).toEqual([]);
  }, 240_000);

  it("ships the LICENSE its manifest names, and the changelog", () => {
    const { files } = packProject();
    expect(files).toEqual(expect.arrayContaining(["LICENSE", "CHANGELOG.md", "README.md", "package.json"]));
    expect(manifest.license).toBe("MIT");
    expect(readFileSync(`${projectRoot}/LICENSE`, "utf8")).toMatch(/^MIT License\n/);
  }, 240_000);

  it("keeps an Unreleased section in the changelog, where API changes are listed", () => {
    expect(readFileSync(`${projectRoot}/CHANGELOG.md`, "utf8")).toMatch(/^## \[Unreleased\]$/m);
  });
});
