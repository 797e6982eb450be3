// The gateway and `oncely keys` with encryption keys and credentials: keys come from the
// environment or the config file (never a flag, which `ps` shows), and neither keys nor
// credentials nor response bodies reach the store file or the logs.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, runCli, startUpstream, type Upstream } from "../gateway/helpers.js";

/** `oncely ...args` to completion, given a minute: tsx starts slowly on a busy machine. */
const cli = (args: readonly string[], env: Record<string, string> = {}) => runCli(args, env, 60_000);

import { commandsOf } from "../helpers/commands.js";
import { docBlock } from "../helpers/doc-blocks.js";
import { newKey, send } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";

interface Run {
  readonly url: string;
  /** Everything printed on stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
});

/** Starts `oncely serve` with `env` added, keeping all it prints from the first byte on. */
function serve(args: readonly string[], env: Record<string, string>): Promise<Run> {
  return watch(
    spawn(process.execPath, ["--import", "tsx", CLI, "serve", "--port", "0", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

/** Waits until `child` prints `listening <port>`, keeping all it prints. */
async function watch(child: ChildProcess): Promise<Run> {
  running.add(child);
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout?.on("data", read);
    child.stderr?.on("data", read);
    child.once("exit", (code) => reject(new Error(`oncely serve exited with ${code}: ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
      running.delete(child);
    },
  };
}

const key = () => randomBytes(32).toString("base64");
const scopeOf = (credential: string) =>
  `cred:${createHash("sha256").update(`${credential}\n`).digest("base64url")}`;

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(() => upstream?.close());

describe("oncely serve with encryption keys", () => {
  it("takes keys from ONCELY_ENCRYPTION_KEYS or the config file, and shows no key, credential or body in the store or the logs", async () => {
    const dir = temporaryDirectory();
    const db = join(dir, "oncely.db");
    const [oldKey, newKey_] = [key(), key()];
    const token = `sk_live_${randomUUID()}`;
    const apiKey = `ak_${randomUUID()}`;
    const cookie = `sess_${randomUUID()}`;
    const marker = `order-${randomUUID()}`;
    const config = join(dir, "oncely.json");
    writeFileSync(
      config,
      JSON.stringify({ store: `sqlite:${db}`, encryptionKeys: [`new:${newKey_}`, `old:${oldKey}`] }),
    );

    const first = await serve(["--upstream", upstream.url, "--store", `sqlite:${db}`], {
      ONCELY_ENCRYPTION_KEYS: `old:${oldKey}`,
    });
    const requests = [
      { authorization: `Bearer ${token}` },
      { "x-api-key": apiKey, authorization: `Basic ${Buffer.from(`user:${apiKey}`).toString("base64")}` },
      { cookie: `session=${cookie}`, authorization: `Bearer ${token}-2` },
    ].map((headers) => ({
      headers: { ...headers, "idempotency-key": newKey(), "content-type": "application/json" },
    }));
    const answers: string[] = [];
    try {
      for (const { headers } of requests) {
        const answer = await send(first.url, { headers, body: JSON.stringify({ marker }) });
        expect(answer.status).toBe(201);
        answers.push(answer.text);
      }
    } finally {
      await first.stop();
    }
    // A second gateway reads the rotated keys from its config file and replays the old records.
    const second = await serve(["--config", config, "--upstream", upstream.url], {});
    try {
      for (const [index, { headers }] of requests.entries()) {
        const replay = await send(second.url, { headers, body: JSON.stringify({ marker }) });
        expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
        expect(replay.text).toBe(answers[index]);
      }
      expect(upstream.count()).toBe(3);
    } finally {
      await second.stop();
    }
    const stored = Buffer.concat(
      [db, `${db}-wal`].filter((file) => existsSync(file)).map((file) => readFileSync(file)),
    );
    const logs = first.output() + second.output();
    expect(logs).toContain("listening");
    expect(stored.includes("oncely_records")).toBe(true);
    for (const secret of [oldKey, newKey_, token, apiKey, cookie, marker]) {
      expect(stored.includes(secret), secret).toBe(false);
      expect(logs.includes(secret), secret).toBe(false);
    }
  }, 120_000);

  it("refuses a key of the wrong size or shape in one line that names no key, and has no flag for keys", async () => {
    const short = randomBytes(31).toString("base64");
    const store = `sqlite:${join(temporaryDirectory(), "oncely.db")}`;
    const wrongSize = await cli(["serve", "--upstream", upstream.url, "--store", store], {
      ONCELY_ENCRYPTION_KEYS: `k1:${short}`,
    });
    expect(wrongSize.code).toBe(2);
    expect(wrongSize.stderr).toContain("ONCELY_ENCRYPTION_KEYS");
    expect(wrongSize.stderr).toContain("31 bytes");
    expect(wrongSize.stderr).not.toContain(short);
    const noId = await cli(["keys", "list", "--store", store], { ONCELY_ENCRYPTION_KEYS: short });
    expect(noId.code).toBe(2);
    expect(noId.stderr).toContain("id:base64key");
    expect(noId.stderr).not.toContain(short);
    const flag = await cli(["serve", "--upstream", upstream.url, "--encryption-keys", `k1:${key()}`]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option");
    const help = await cli(["serve", "--help"]);
    expect(help.stdout).toContain("ONCELY_ENCRYPTION_KEYS");
    expect(help.stdout).not.toContain("--encryption-keys");
  }, 90_000);
});

describe("docs/stores.md", () => {
  it("starts the gateway with a fresh key as its encryption example shows", async () => {
    const db = join(temporaryDirectory(), "oncely.db");
    const [exported, command] = commandsOf(docBlock("encryption-serve").code) as [string, string];
    const cli = command
      .replace("npx oncely", `${process.execPath} --import tsx ${CLI}`)
      .replace("http://127.0.0.1:3000", upstream.url)
      .replace("sqlite:./.oncely/oncely.db", `sqlite:${db}`);
    const gateway = await watch(
      spawn("sh", ["-c", `${exported}; exec ${cli}`], {
        env: { ...process.env, ONCELY_PORT: "0" },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    try {
      const marker = `order-${randomUUID()}`;
      const request = { headers: { "idempotency-key": newKey() }, body: marker };
      const first = await send(gateway.url, request);
      const replay = await send(gateway.url, request);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.text).toBe(first.text);
      expect(first.text).toContain(marker);
      const stored = [db, `${db}-wal`].filter((file) => existsSync(file)).map((file) => readFileSync(file));
      expect(stored.length).toBeGreaterThan(0);
      for (const bytes of stored) expect(bytes.includes(marker)).toBe(false);
    } finally {
      await gateway.stop();
    }
  }, 90_000);
});

describe("scopes under attack", () => {
  it("never answers a client with another credential's record, for its key or guessed ones, and oncely keys acts within the scope given", async () => {
    const dir = temporaryDirectory();
    const store = `sqlite:${join(dir, "oncely.db")}`;
    const env = { ONCELY_ENCRYPTION_KEYS: `k1:${key()}` };
    const gateway = await serve(["--upstream", upstream.url, "--store", store], env);
    const alice = `Bearer alice-${randomUUID()}`;
    const mallory = `Bearer mallory-${randomUUID()}`;
    const base = `order-${randomUUID()}`;
    const keys = Array.from({ length: 10 }, (_, i) => `${base}-${i}`);
    const post = (credential: string | undefined, idempotencyKey: string, body: string) =>
      send(gateway.url, {
        headers: { "idempotency-key": idempotencyKey, ...(credential ? { authorization: credential } : {}) },
        body,
      });
    try {
      const before = upstream.count();
      const secrets = new Map<string, string>();
      for (const k of keys) {
        const answer = await post(alice, k, `alice's secret ${k}`);
        secrets.set(k, answer.text);
      }
      // The same keys, guessed neighbours and the same bodies: every one a fresh execution.
      const guesses = [...keys, `${base}-10`, `${base}-11`, keys[0]?.toUpperCase() ?? ""];
      for (const credential of [mallory, undefined, `${alice} `.replace("Bearer", "bearer")]) {
        for (const k of guesses) {
          const answer = await post(credential, k, `alice's secret ${k}`);
          expect(answer.headers.get("x-idempotency-replayed")).toBeNull();
          expect(answer.text).not.toBe(secrets.get(k));
        }
      }
      expect(upstream.count()).toBe(before + keys.length + 3 * guesses.length);

      const shared = keys[0] as string;
      const list = await cli(["keys", "show", shared, "--store", store, "--json"], env);
      expect(list.stdout.trim().split("\n")).toHaveLength(4);
      const inScope = await cli(
        ["keys", "show", shared, "--store", store, "--json", "--scope", scopeOf(mallory)],
        env,
      );
      const shown = inScope.stdout.trim().split("\n");
      expect(shown).toHaveLength(1);
      expect(JSON.parse(shown[0] as string)).toMatchObject({ key: shared, scope: scopeOf(mallory) });
      // A key used only without a credential is not found in mallory's scope; one used in every
      // scope needs --scope, and deleting it there leaves alice's record alone.
      const onlyAlice = keys[5] as string;
      await post(undefined, `${base}-x`, "anonymous");
      const notThere = await cli(
        ["keys", "delete", `${base}-x`, "--store", store, "--scope", scopeOf(mallory)],
        env,
      );
      expect(notThere.code).not.toBe(0);
      expect(notThere.stderr).toContain("no live record");
      const ambiguous = await cli(["keys", "delete", onlyAlice, "--store", store], env);
      expect(ambiguous.code).toBe(2);
      expect(ambiguous.stderr).toContain("pass --scope");
      const deleted = await cli(
        ["keys", "delete", onlyAlice, "--store", store, "--scope", scopeOf(mallory)],
        env,
      );
      expect(deleted.code).toBe(0);
      const replay = await post(alice, onlyAlice, `alice's secret ${onlyAlice}`);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.text).toBe(secrets.get(onlyAlice));
    } finally {
      await gateway.stop();
    }
  }, 120_000);
});
