// Every fenced block of README.md and docs/*.md names how it is checked (<!-- doc-test: … -->
// on the line before it): by a check of test/docs, or `not run` and why. This file holds that
// rule and the checks of the shell blocks: the README's set up (the demo) and command line.
import { type ChildProcess, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandsOf, startCommand, stop } from "../helpers/commands.js";
import { docBlock, docBlocks, documentationFiles } from "../helpers/doc-blocks.js";
import { projectRoot } from "../helpers/package.js";
import { endsWithin } from "../helpers/processes.js";
import { scratchApp } from "../helpers/scratch-app.js";
import { temporaryDirectory } from "../helpers/stores.js";

/** The checks that run blocks, and the test file of each. */
const CHECKS: Record<string, string> = {
  setup: "test/docs/commands.test.ts",
  "command-line": "test/docs/commands.test.ts",
  "quickstart-install": "test/docs/quickstart.test.ts",
  "quickstart-express": "test/docs/quickstart.test.ts",
  "quickstart-commonjs": "test/docs/quickstart.test.ts",
  "quickstart-node": "test/docs/quickstart.test.ts",
  "quickstart-try": "test/docs/quickstart.test.ts",
  "push-example": "test/client/push-demo.test.ts",
  "readme-fastify": "test/docs/examples.test.ts",
  "readme-koa": "test/docs/examples.test.ts",
  "readme-nestjs": "test/docs/examples.test.ts",
  "readme-hono": "test/docs/examples.test.ts",
  "readme-fetch": "test/docs/examples.test.ts",
  "readme-client-error": "test/docs/examples.test.ts",
  "semantics-store-header": "test/docs/examples.test.ts",
  "semantics-scope-cookie": "test/docs/examples.test.ts",
  "dashboard-serve": "test/docs/examples.test.ts",
  "dashboard-express": "test/docs/examples.test.ts",
  "openapi-command": "test/docs/examples.test.ts",
  "openapi-code": "test/docs/examples.test.ts",
  "encryption-serve": "test/security/gateway-secrets.test.ts",
};

describe("code blocks of README.md and docs/*.md", () => {
  const blocks = documentationFiles().flatMap(docBlocks);

  it("each name their check, or say why they are not run", () => {
    const unmarked = blocks.filter(
      (block) => block.check === undefined || !(block.check in CHECKS || /^not run: \S/.test(block.check)),
    );
    expect(
      unmarked.map((block) => `${block.file}:${block.line} ${block.check ?? "(no doc-test comment)"}`),
    ).toEqual([]);
  });

  it("are run once each by their check", () => {
    for (const [check, file] of Object.entries(CHECKS)) {
      expect(
        blocks.filter((block) => block.check === check),
        check,
      ).toHaveLength(1);
      expect(readFileSync(join(projectRoot, file), "utf8"), file).toContain(`"${check}"`);
    }
  });
});

describe("the README's set up and command line", () => {
  // The demo of `npm start`, on a free port: the command line examples run against it.
  let demo: ChildProcess | undefined;
  let demoAddress = "";

  beforeAll(async () => {
    const setup = commandsOf(docBlock("setup").code);
    // `npm ci` made this checkout's node_modules (and is what .ci/run runs); it is not repeated here.
    const start = setup.find((command) => command.endsWith("npm start"));
    expect(start).toBe("npm ci && npm start");
    const started = await startCommand(
      "npm start",
      {
        cwd: projectRoot,
        env: {
          ...process.env,
          ONCELY_PORT: "0",
          ONCELY_STORE: `sqlite:${join(temporaryDirectory(), "demo.db")}`,
        },
      },
      /Ctrl-C stops the demo/,
    );
    demo = started.child;
    demoAddress = /gateway\s+http:\/\/([\d.]+:\d+)/.exec(started.output)?.[1] ?? "";
  }, 120_000);
  afterAll(async () => {
    if (demo) await stop(demo);
  });

  it("runs npm test in CI exactly as written", () => {
    const setup = commandsOf(docBlock("setup").code);
    expect(setup).toContain("npm ci && npm test");
    const ci = readFileSync(join(projectRoot, ".ci/run"), "utf8");
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });

  it("starts the demo with npm start: a gateway in front of the demo API", async () => {
    expect(demoAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const quota = await fetch(`http://${demoAddress}/v1/quota`, {
      headers: { authorization: "Bearer demo-key" },
    });
    expect(quota.status).toBe(200);
  });

  it("runs every command of the command line block in an app that installed oncely", async () => {
    const cwd = join(scratchApp(), `commands-${Date.now()}`);
    mkdirSync(join(cwd, "data"), { recursive: true });
    // What the push example converts: the user's CSV files.
    writeFileSync(join(cwd, "data/orders.csv"), "sku,qty\nA1,2\n");
    writeFileSync(join(cwd, "data/stock.csv"), "sku,left\nA1,40\n");
    // The documented ports, 8080 (the demo) and 3000 (your API), are the demo's free one here.
    const commands = commandsOf(docBlock("command-line").code).map((command) =>
      command.replaceAll("127.0.0.1:8080", demoAddress).replaceAll("127.0.0.1:3000", demoAddress),
    );
    expect(commands.length).toBeGreaterThanOrEqual(4);
    const env = { ...process.env, ONCELY_PORT: "0" };
    const failures: string[] = [];
    for (const command of commands) {
      if (/ oncely serve /.test(command)) {
        const { child, output } = await startCommand(command, { cwd, env }, /listening \d+/);
        // npx ends on SIGTERM without passing it on; the gateway (its pid is in the log) follows.
        const gateway = Number(/"pid":(\d+)/.exec(output)?.[1]);
        await stop(child);
        if (!(await endsWithin(gateway, 10_000))) failures.push(`${command}: still running after SIGTERM`);
        continue;
      }
      try {
        execFileSync("sh", ["-c", command], { cwd, env, stdio: "pipe", timeout: 60_000 });
      } catch (error) {
        const { status, stderr } = error as { status: number; stderr: Buffer };
        failures.push(
          `${command}: exit ${status}: ${stderr.toString().trim().split("\n").slice(-3).join(" / ")}`,
        );
      }
    }
    expect(failures).toEqual([]);
    // The push example wrote one converted file per input.
    const converted = join(cwd, "converted/data");
    expect(existsSync(converted) ? readdirSync(converted) : []).toHaveLength(2);
  }, 240_000);
});
