// `npx oncely …`, as the README writes every command, in a clone after `npm ci`.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { copyCheckout, projectRoot } from "../helpers/package.js";
import { endsWithin } from "../helpers/processes.js";
import { scratchApp } from "../helpers/scratch-app.js";

const { version } = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as {
  version: string;
};

describe("the oncely command in a clone", () => {
  // npm ci ends with the project's prepare script: what a clone has then is what npx runs.
  let clone: string;
  beforeAll(() => {
    clone = copyCheckout();
    execFileSync("npm", ["run", "prepare", "--if-present"], {
      cwd: clone,
      stdio: "ignore",
      timeout: 180_000,
    });
  }, 240_000);

  it("runs as npx oncely", () => {
    const output = execFileSync("npx", ["--no-install", "oncely", "--version"], {
      cwd: clone,
      encoding: "utf8",
      // npx links the clone into its cache on first use, which runs its prepare script (a build) again.
      timeout: 150_000,
    });
    expect(output.trim()).toBe(version);
  }, 180_000);

  it("stops the gateway when npx gets SIGTERM", async () => {
    const npx = spawn(
      "npx",
      [
        "--no-install",
        "oncely",
        "serve",
        "--port",
        "0",
        "--store",
        "memory:",
        "--upstream",
        "http://127.0.0.1:9",
      ],
      {
        cwd: clone,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let output = "";
    const gatewayPid = await new Promise<number>((resolve, reject) => {
      npx.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /"pid":(\d+).*"msg":"listening \d+"/.exec(output);
        if (listening) resolve(Number(listening[1]));
      });
      npx.once("exit", () => reject(new Error(`npx exited before the gateway listened: ${output}`)));
    });
    // npm runs the command in a shell and does not pass SIGTERM on: the gateway notices that it lost its parent.
    npx.kill("SIGTERM");
    expect(await endsWithin(gatewayPid, 10_000)).toBe(true);
  }, 60_000);
});

describe("the oncely command of the installed package", () => {
  it("runs as npx oncely in an app that installed it", () => {
    const output = execFileSync("npx", ["--no-install", "oncely", "--version"], {
      cwd: scratchApp(),
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(output.trim()).toBe(version);
  }, 240_000);
});
