// docs/dashboard.md: its commands and its code run, and the JSON API it documents is what answers.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startUpstream } from "../gateway/helpers.js";
import { freePort, newKey, send } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";

const docs = readFileSync(new URL("../../docs/dashboard.md", import.meta.url), "utf8");
const source = (path: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)));
const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const TOKEN = "docs-test-dashboard-token";
/** tsx's loader by path: the examples run in a temporary directory, away from node_modules. */
const TSX = import.meta.resolve("tsx");

/** Resolves once `url` answers at all. */
async function answering(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${output()}`);
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} never answered: ${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
});

function spawnLogged(command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv }) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

const activity = async (base: string) =>
  (
    await send(`${base}/api/activity`, { method: "GET", headers: { authorization: `Bearer ${TOKEN}` } })
  ).json() as { totals: Record<string, number> };

describe("docs/dashboard.md", () => {
  it("its Express example serves the page and counts the app's executions and replays", async () => {
    const code = /```ts\n([\s\S]*?)```/.exec(docs)?.[1] ?? "";
    const port = await freePort();
    const runnable = code
      .replace('"oncely/dashboard"', source("dashboard/index.ts"))
      .replace('"oncely/express"', source("adapters/express/index.ts"))
      .replace('"oncely"', source("index.ts"))
      .replace('"express"', JSON.stringify(createRequire(import.meta.url).resolve("express")));
    const directory = temporaryDirectory();
    writeFileSync(join(directory, "app.mts"), runnable);
    const { child, output } = spawnLogged(process.execPath, ["--import", TSX, "app.mts"], {
      cwd: directory,
      env: { ...process.env, ONCELY_DASHBOARD_TOKEN: TOKEN, PORT: String(port) },
    });
    const url = `http://127.0.0.1:${port}`;
    await answering(url, child, output);
    const key = newKey();
    for (let i = 0; i < 2; i++)
      expect((await send(`${url}/orders`, { headers: { "idempotency-key": key } })).status).toBe(201);
    expect((await send(`${url}/_oncely/`, { method: "GET" })).text).toContain("<title>oncely dashboard");
    expect((await activity(`${url}/_oncely`)).totals).toMatchObject({ executed: 1, replayed: 1 });
  });

  it("its command starts `oncely serve` with the page, whose API stays shut without the token", async () => {
    const upstream = await startUpstream();
    try {
      const command = /^(ONCELY_DASHBOARD_TOKEN=.*npx oncely serve .*)$/m.exec(docs)?.[1] ?? "";
      expect(command).toContain("--upstream http://127.0.0.1:3000");
      const port = await freePort();
      // `exec` makes the gateway the very process the test kills.
      const [assignment, rest] = command.split(" npx oncely") as [string, string];
      const oncely = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(CLI)}`;
      const runnable = `export ${assignment}; exec ${oncely}${rest.replace(
        "http://127.0.0.1:3000",
        `${upstream.url} --port ${port} --store memory:`,
      )}`;
      const { child, output } = spawnLogged("bash", ["-c", runnable], { env: process.env });
      const url = `http://127.0.0.1:${port}`;
      await answering(`${url}/_oncely/health`, child, output);
      expect((await send(`${url}/_oncely/`, { method: "GET" })).status).toBe(200);
      // The token was made up by openssl: without it, the API stays shut.
      expect((await send(`${url}/_oncely/api/activity`, { method: "GET" })).status).toBe(401);
    } finally {
      await upstream.close();
    }
  });

  it("its curl reads the activity the page shows", async () => {
    const upstream = await startUpstream();
    try {
      const port = await freePort();
      const { child, output } = spawnLogged(
        process.execPath,
        [
          "--import",
          "tsx",
          CLI,
          "serve",
          "--upstream",
          upstream.url,
          "--port",
          String(port),
          "--store",
          "memory:",
        ],
        { env: { ...process.env, ONCELY_DASHBOARD_TOKEN: TOKEN } },
      );
      const url = `http://127.0.0.1:${port}`;
      await answering(`${url}/_oncely/health`, child, output);
      await send(`${url}/orders`, { headers: { "idempotency-key": newKey() } });
      const curl = (/^`(curl -H .*\/_oncely\/api\/activity)`$/m.exec(docs)?.[1] ?? "").replace(
        "http://127.0.0.1:8080",
        url,
      );
      const printed = execFileSync("bash", ["-c", curl], {
        encoding: "utf8",
        env: { ...process.env, ONCELY_DASHBOARD_TOKEN: TOKEN },
        timeout: 10_000,
      });
      expect(JSON.parse(printed)).toMatchObject({ totals: { executed: 1 }, seconds: 120 });
    } finally {
      await upstream.close();
    }
  });
});
