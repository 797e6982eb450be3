// The README's quickstart pasted into a new app that installed the npm pack tarball: its
// install line, the Express app in TypeScript (ESM) and in CommonJS, the node:http app, and
// the curl commands that try them.
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { docBlock } from "../helpers/doc-blocks.js";
import { scratchApp } from "../helpers/scratch-app.js";
import { temporaryDirectory } from "../helpers/stores.js";

let app: string;
beforeAll(() => {
  app = scratchApp();
  writeFileSync(join(app, "express.ts"), docBlock("quickstart-express").code);
  writeFileSync(join(app, "node.ts"), docBlock("quickstart-node").code);
  writeFileSync(join(app, "commonjs.cjs"), docBlock("quickstart-commonjs").code);
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { module: "nodenext", target: "es2022", strict: true, outDir: "build" },
      files: ["express.ts", "node.ts"],
    }),
  );
}, 300_000);

/** Packages a block loads, apart from Node's own and oncely. */
function packagesOf(code: string): string[] {
  const names = [...code.matchAll(/(?:from |require\()"([^"]+)"/g)].map((match) => match[1] as string);
  return names
    .filter((name) => !name.startsWith("node:") && name !== "oncely" && !name.startsWith("oncely/"))
    .map((name) =>
      name.startsWith("@") ? name.split("/").slice(0, 2).join("/") : (name.split("/")[0] as string),
    );
}

let compiled = false;

/** Compiles the TypeScript examples into build/ (once). */
function compile(): void {
  if (compiled) return;
  execFileSync(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", app], {
    encoding: "utf8",
    timeout: 120_000,
  });
  compiled = true;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `node script` in a fresh working directory on a free PORT, runs the README's curl commands against it. */
async function tryIt(script: string): Promise<string> {
  const port = await freePort();
  const server = spawn(process.execPath, [join(app, script)], {
    cwd: temporaryDirectory(),
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  server.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  try {
    const commands = docBlock("quickstart-try").code.replaceAll("localhost:3000", `localhost:${port}`);
    for (let attempt = 0; ; attempt++) {
      // Until the app listens, curl fails to connect and nothing has been sent.
      const probe = spawn("curl", ["-s", "-o", "/dev/null", `http://localhost:${port}/`]);
      const [code] = (await once(probe, "exit")) as [number | null];
      if (code === 0) break;
      if (attempt > 100 || server.exitCode !== null) throw new Error(`${script} did not start: ${stderr}`);
      await sleep(100);
    }
    return execFileSync("sh", ["-e", "-c", commands], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
  } finally {
    server.kill("SIGKILL");
  }
}

/** Asserts that the curl output shows one execution (201) and then its replay. */
function expectExecutedThenReplayed(output: string): void {
  // curl -i prints each answer's status line, headers and body, one after the other.
  const answers = output.split(/(?=HTTP\/1\.1 \d{3} )/);
  expect(answers).toHaveLength(2);
  expect(answers.map((answer) => answer.split("\r\n")[0])).toEqual([
    "HTTP/1.1 201 Created",
    "HTTP/1.1 201 Created",
  ]);
  expect(answers[0]).not.toMatch(/^x-idempotency-replayed:/im);
  expect(answers[1]).toMatch(/^x-idempotency-replayed: true\r$/im);
  const body = (answer: string) => answer.split("\r\n\r\n")[1];
  expect(body(answers[1] as string)).toBe(body(answers[0] as string));
}

describe("the README quickstart in a new app", () => {
  it("installs everything its examples load, and better-sqlite3 for the sqlite: store", () => {
    const install = docBlock("quickstart-install").code;
    const installed = install.split(/\s+/);
    const needed = ["quickstart-express", "quickstart-commonjs", "quickstart-node"].flatMap((check) =>
      packagesOf(docBlock(check).code),
    );
    needed.push("better-sqlite3", "@types/node");
    for (const name of needed) expect(installed, `the install lines name ${name}`).toContain(name);
    expect(installed).toContain("oncely");
  });

  it("compiles as TypeScript with module nodenext", () => {
    compile();
  }, 180_000);

  it.each([
    ["the Express app, compiled from TypeScript", "build/express.js"],
    ["the Express app in CommonJS", "commonjs.cjs"],
    ["the node:http app, compiled from TypeScript", "build/node.js"],
  ])(
    "runs %s, and the curl commands show a replay",
    async (_name, script) => {
      if (script.startsWith("build/")) compile();
      expectExecutedThenReplayed(await tryIt(script));
    },
    180_000,
  );
});
