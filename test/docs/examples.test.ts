// The README's framework examples and the runnable blocks of docs/semantics.md,
// docs/dashboard.md and docs/openapi.md, pasted into one new app that installed the npm pack
// tarball: compiled as TypeScript, run as real processes on free loopback ports, and sent the
// requests their text implies.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { commandsOf, startCommand } from "../helpers/commands.js";
import { docBlock } from "../helpers/doc-blocks.js";
import { freePort, listen, newKey, type Reply, send, type TestServer } from "../helpers/http.js";
import { projectRoot } from "../helpers/package.js";
import { endsWithin } from "../helpers/processes.js";
import { rawExchange } from "../helpers/raw-http.js";
import { scratchApp } from "../helpers/scratch-app.js";
import { temporaryDirectory } from "../helpers/stores.js";

/** Each TypeScript block, by check, and the file it is pasted into. */
const EXAMPLES: Record<string, string> = {
  "readme-fastify": "fastify.ts",
  "readme-koa": "koa.ts",
  "readme-nestjs": "nestjs.ts",
  "readme-hono": "hono.ts",
  "readme-fetch": "fetch.ts",
  "readme-client-error": "client-error.ts",
  "semantics-store-header": "store-header.ts",
  "dashboard-express": "dashboard.ts",
  "openapi-code": "openapi.ts",
};

let dir: string;
beforeAll(() => {
  dir = join(scratchApp(), "examples");
  // @types/koa only here: in the app's node_modules/@types, every compilation there (the
  // quickstart's) would load it, and it fails without skipLibCheck (see below).
  mkdirSync(join(dir, "node_modules/@types"), { recursive: true });
  symlinkSync(join(projectRoot, "node_modules/@types/koa"), join(dir, "node_modules/@types/koa"));
  for (const [check, file] of Object.entries(EXAMPLES)) writeFileSync(join(dir, file), docBlock(check).code);
  copyFileSync(join(projectRoot, "test/fixtures/serve-fetch.ts"), join(dir, "serve-fetch.ts"));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      // NestJS's parameter decorators (`@Body()`) need the legacy decorators. skipLibCheck: the
      // linked @types/koa finds content-disposition's own types, not the @types package npm
      // would install beside it.
      compilerOptions: {
        skipLibCheck: true,
        module: "nodenext",
        target: "es2022",
        strict: true,
        outDir: "build",
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
      },
      files: [...Object.values(EXAMPLES), "serve-fetch.ts"],
    }),
  );
  try {
    execFileSync(process.execPath, [join(dir, "../node_modules/typescript/bin/tsc"), "-p", dir], {
      encoding: "utf8",
      timeout: 120_000,
    });
  } catch (error) {
    // tsc prints its errors on stdout.
    throw new Error(`the examples do not compile:\n${(error as { stdout: string }).stdout}`);
  }
}, 400_000);

/** The processes a test started, ended after it by pid. */
const started: ChildProcess[] = [];
const gateways: number[] = [];
afterEach(async () => {
  for (const child of started.splice(0)) child.kill("SIGKILL");
  for (const pid of gateways.splice(0)) {
    process.kill(pid, "SIGTERM");
    await endsWithin(pid, 10_000);
  }
});

/** Runs `node build/<script>` with PORT set to a free port, in a fresh directory, until it answers. */
async function run(script: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(dir, "build", script), ...args], {
    cwd: temporaryDirectory(),
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  started.push(child);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await fetch(`${url}/`);
      return url;
    } catch {
      if (attempt > 150 || child.exitCode !== null) throw new Error(`${script} did not start: ${stderr}`);
      await sleep(100);
    }
  }
}

const order = (key: string, body: unknown, headers: Record<string, string> = {}) => ({
  headers: { "idempotency-key": key, "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/** Sends the same POST twice and asserts: executed, then the same answer replayed. */
async function expectReplay(
  url: string,
  {
    status = 201,
    headers = {},
    key = newKey(),
  }: { status?: number; headers?: Record<string, string>; key?: string } = {},
): Promise<Reply> {
  const request = order(key, { sku: "A1" }, headers);
  const first = await send(url, request);
  const second = await send(url, request);
  expect(first.status, first.text).toBe(status);
  expect(first.headers.get("x-idempotency-replayed")).toBeNull();
  expect(second.status).toBe(status);
  expect(second.headers.get("x-idempotency-replayed")).toBe("true");
  expect(second.text).toBe(first.text);
  return first;
}

describe("the README's framework examples, each served on a free port", () => {
  it.each([
    ["readme-fastify", "fastify.js", []],
    ["readme-koa", "koa.js", []],
    ["readme-nestjs", "nestjs.js", []],
    ["readme-hono", "serve-fetch.js", ["build/hono.js"]],
    ["readme-fetch", "serve-fetch.js", ["build/fetch.js"]],
  ])(
    "%s answers a retried POST /orders with a replay",
    async (_check, script, args) => {
      // serve-fetch resolves the module from the working directory.
      const url = await run(
        script,
        {},
        args.map((arg) => join(dir, arg)),
      );
      const first = await expectReplay(`${url}/orders`);
      expect(first.json()).toMatchObject({ id: expect.any(String) });
    },
    60_000,
  );

  it("readme-client-error: answers a request Node's parser refuses with problem+json", async () => {
    const url = await run("client-error.js");
    expect((await expectReplay(`${url}/orders`, { status: 200 })).text).toBe("ok");
    const port = Number(new URL(url).port);
    const refused = await rawExchange(port, [
      Buffer.from(
        "POST /orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: abc\x01def\r\nContent-Length: 0\r\n\r\n",
      ),
    ]);
    expect(refused.statuses).toEqual([400]);
    expect(refused.received.toString("latin1")).toMatch(/content-type: application\/problem\+json/i);
  }, 60_000);
});

describe("docs/semantics.md", () => {
  let upstream: TestServer | undefined;
  afterEach(async () => {
    await upstream?.close();
  });

  it("semantics-store-header: a refused request is not kept, the corrected retry executes and is kept", async () => {
    const url = `${await run("store-header.js")}/orders`;
    const key = newKey();
    const refused = await send(url, order(key, {}));
    expect(refused.status).toBe(400);
    expect(refused.headers.get("x-idempotency-store")).toBeNull();
    // With the 400 kept, the corrected body under the same key would be 422 key-reused.
    const corrected = await send(url, order(key, { sku: "A1" }));
    expect(corrected.status, corrected.text).toBe(201);
    expect(corrected.headers.get("x-idempotency-replayed")).toBeNull();
    const retried = await send(url, order(key, { sku: "A1" }));
    expect(retried.headers.get("x-idempotency-replayed")).toBe("true");
    expect(retried.text).toBe(corrected.text);
  }, 60_000);

  it("semantics-scope-cookie: the gateway scopes keys by the session cookie", async () => {
    // An upstream without oncely of its own, which would replay by its own (unscoped) rule.
    upstream = await listen((_req, res) => {
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: randomUUID() }));
    });
    const gateway = await serve(docBlock("semantics-scope-cookie").code, upstream.url);
    const url = `${gateway}/orders`;
    const first = await expectReplay(url, { headers: { cookie: "session=alice" } });
    // The same key in another session is another request: executed, not alice's answer.
    const key = newKey();
    const alice = await send(url, order(key, { sku: "A1" }, { cookie: "session=alice" }));
    const bob = await send(url, order(key, { sku: "A1" }, { cookie: "session=bob" }));
    expect([alice.status, bob.status]).toEqual([201, 201]);
    expect(bob.headers.get("x-idempotency-replayed")).toBeNull();
    expect(bob.text).not.toBe(alice.text);
    expect(first.text).not.toBe(alice.text);
  }, 90_000);
});

/**
 * Runs the one command of a shell block that starts `oncely serve` in the scratch app, its
 * upstream 127.0.0.1:3000 replaced by `upstream`, on a free port; resolves with its address.
 */
async function serve(code: string, upstream: string): Promise<string> {
  const [command, ...more] = commandsOf(code);
  expect(more).toEqual([]);
  expect(command).toContain("http://127.0.0.1:3000");
  const { child, output } = await startCommand(
    (command as string).replace("http://127.0.0.1:3000", upstream),
    { cwd: join(dir, ".."), env: { ...process.env, ONCELY_PORT: "0" } },
    /listening \d+/,
  );
  started.push(child);
  // npx does not pass the signal on: the gateway (its pid is in the log) is ended by its own pid.
  const gateway = Number(/"pid":(\d+)/.exec(output)?.[1]);
  if (!(gateway > 0)) throw new Error(`no gateway pid in: ${output}`);
  gateways.push(gateway);
  return `http://127.0.0.1:${/listening (\d+)/.exec(output)?.[1]}`;
}

describe("docs/dashboard.md", () => {
  it("dashboard-serve: oncely serve with a token serves the page and guards its API", async () => {
    const gateway = await serve(docBlock("dashboard-serve").code, await run("store-header.js"));
    await expectReplay(`${gateway}/orders`);
    const page = await send(`${gateway}/_oncely/`, { method: "GET" });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    // The token is random: the API refuses a request without it.
    const api = await send(`${gateway}/_oncely/api/activity`, { method: "GET" });
    expect(api.status).toBe(401);
  }, 90_000);

  it("dashboard-express: the app's own dashboard sees its guarded requests", async () => {
    const token = "a-dashboard-token-for-the-test";
    const url = await run("dashboard.js", { ONCELY_DASHBOARD_TOKEN: token });
    const key = newKey();
    await expectReplay(`${url}/orders`, { key });
    const records = await send(`${url}/_oncely/api/records?limit=10`, {
      method: "GET",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(records.status, records.text).toBe(200);
    expect(records.text).toContain(key);
    const activity = await send(`${url}/_oncely/api/activity`, {
      method: "GET",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(activity.status).toBe(200);
    // observe() saw the execution and its replay.
    expect((activity.json() as { totals: Record<string, number> }).totals).toMatchObject({ replayed: 1 });
  }, 60_000);
});

describe("docs/openapi.md", () => {
  it("openapi-command: writes the components with the options it was given", () => {
    // In a directory of the app, so npx finds its oncely.
    const cwd = join(dir, "..", `openapi-${Date.now()}`);
    mkdirSync(cwd);
    const [command, ...more] = commandsOf(docBlock("openapi-command").code);
    expect(more).toEqual([]);
    execFileSync("sh", ["-e", "-c", command as string], {
      cwd,
      stdio: "pipe",
      timeout: 60_000,
    });
    const written = readFileSync(join(cwd, "idempotency.openapi.json"), "utf8");
    const document = JSON.parse(written) as {
      components: { parameters: Record<string, { required?: boolean }> };
    };
    const parameters = Object.values(document.components.parameters);
    expect(parameters.some((parameter) => parameter.required === true)).toBe(true);
    expect(written).toContain("1 hour");
  }, 60_000);

  it("openapi-code: prints a valid OpenAPI 3.1 document", async () => {
    const output = execFileSync(process.execPath, [join(dir, "build/openapi.js")], {
      encoding: "utf8",
      timeout: 30_000,
    });
    const spec = JSON.parse(output);
    const result = await new Validator().validate(spec);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(JSON.stringify(spec.paths["/orders"].post)).toContain("#/components/");
  }, 60_000);
});
