// The `oncely push` examples of README.md and docs/client.md, pasted against the real demo
// (`oncely demo`, what `npm start` runs): every CSV file converts, once. (docs/client.md marks
// its example doc-test: "push-example", the check of this file.)
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliProcess, startCli } from "../gateway/helpers.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { push, summaryOf } from "./processes.js";

/** The documented `npx oncely push …` command of a Markdown file, as arguments. */
function documentedPush(file: string): string[] {
  const text = readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
  const command = /^npx oncely push ((?:.*\\\n)*.*)/m.exec(text)?.[1];
  if (command === undefined) throw new Error(`${file} has no "npx oncely push" example`);
  const words = command
    .replace(/#.*$/gm, "")
    .replace(/\\\n/g, " ")
    .match(/'[^']*'|\S+/g) as string[];
  return words.map((word) => word.replace(/^'(.*)'$/, "$1"));
}

describe.each(["README.md", "docs/client.md"])("the push example of %s against the demo", (file) => {
  let demo: CliProcess;
  let gateway = "";

  beforeAll(async () => {
    const store = `sqlite:${join(temporaryDirectory(), "demo.db")}`;
    demo = await startCli(["demo", "--port", "0", "--store", store], "Ctrl-C stops the demo");
    gateway = /^ {2}gateway\s+(\S+)/m.exec(demo.output())?.[1] as string;
  }, 30_000);

  afterAll(() => demo?.stop());

  it("converts every file, and a rerun skips them all", async () => {
    const args = documentedPush(file).map((arg) => arg.replace("http://127.0.0.1:8080", gateway));
    expect(args.join(" ")).toContain(`${gateway}/v1/convert`);
    const cwd = temporaryDirectory();
    mkdirSync(join(cwd, "data"));
    writeFileSync(join(cwd, "data/a.csv"), "name,qty\nwidget,2\n");
    writeFileSync(join(cwd, "data/b.csv"), "name,qty\ngadget,5\n");

    const first = await push(args, cwd);
    expect(first.stderr).not.toMatch(/failed data/);
    expect(first.code).toBe(0);
    expect(summaryOf(first.stderr)).toMatchObject({ executed: 2, failed: 0 });
    const outputs = readdirSync(join(cwd, "converted/data")).sort();
    expect(outputs).toHaveLength(2);
    const a = readFileSync(join(cwd, "converted/data", outputs[0] as string), "utf8");
    expect(JSON.parse(a)).toEqual([{ name: "widget", qty: "2" }]);

    const again = await push(args, cwd);
    expect(again.code).toBe(0);
    expect(summaryOf(again.stderr)).toMatchObject({ executed: 0, skipped: 2 });
  });
});
