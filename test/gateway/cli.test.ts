// The command line: help, usage errors, where settings come from, and `oncely keys`.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE_SETTINGS, engineOptions } from "../../src/cli/engine-settings.js";
import {
  LISTEN_SETTINGS,
  PROXY_SETTINGS,
  SERVE_SETTINGS,
  UPSTREAM_SETTINGS,
} from "../../src/cli/gateway-settings.js";
import { envName, flagName } from "../../src/cli/settings.js";
import { formatDuration, formatSize, parseDuration, parseSize } from "../../src/cli/values.js";
import { newKey, send } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { type GatewayProcess, runCli, startGateway, startUpstream, type Upstream } from "./helpers.js";

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(() => upstream?.close());

describe("values", () => {
  it("parses and prints durations and sizes", () => {
    expect(parseDuration("24h")).toBe(86_400_000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("250")).toBe(250);
    expect(parseSize("1MiB")).toBe(1_048_576);
    expect(parseSize("10mb")).toBe(10_000_000);
    expect(() => parseDuration("soon")).toThrow(/expected a duration/);
    expect(() => parseSize("1 parsec")).toThrow(/expected a size/);
    expect(formatDuration(86_400_000)).toBe("24h");
    expect(formatDuration(60_000)).toBe("60s");
    expect(formatDuration(0)).toBe("0ms");
    expect(formatSize(104_857_600)).toBe("100MiB");
  });
});

describe("every engine option that is not a function is a setting", () => {
  it("maps the settings onto IdempotencyOptions", () => {
    const source = readFileSync(new URL("../../src/core/options.ts", import.meta.url), "utf8");
    const body = /export interface IdempotencyOptions \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
    const declared = [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((match) => match[1] as string);
    const notFlags = ["store", "key", "scope", "shouldStore", "hooks"];
    const everySet = engineOptions({
      methods: ["POST"],
      header: "K",
      keyJson: "/k",
      maxKeyLength: 1,
      required: true,
      scopeHeader: "S",
      scopeCookie: "C",
      fingerprint: { method: true, path: true, body: false },
      mismatch: "ignore",
      wait: 1,
      ttl: 1,
      lease: 1,
      replayHeader: "R",
      storeHeader: "N",
      denyHeaders: ["a"],
      allowHeaders: ["b"],
      storeBeforeSendBytes: 1,
      maxBodyBytes: 1,
      maxRequestBodyBytes: 1,
      maxUploadBytes: 1,
      onStoreError: "open",
      errorFormat: "stripe",
      retryAfter: 1,
    });
    expect(Object.keys(everySet).sort()).toEqual(declared.filter((name) => !notFlags.includes(name)).sort());
  });

  it("gives each setting the name of its option (the CLI, its variables and the config file say the same)", () => {
    const source = readFileSync(new URL("../../src/core/options.ts", import.meta.url), "utf8");
    const body = /export interface IdempotencyOptions \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
    const declared = new Set([...body.matchAll(/^ {2}(\w+)\??:/gm)].map((match) => match[1] as string));
    // The two halves of the nested `responseHeaders` option.
    const nested = ["denyHeaders", "allowHeaders"];
    expect(
      Object.keys(ENGINE_SETTINGS).filter((name) => !declared.has(name) && !nested.includes(name)),
    ).toEqual([]);
  });
});

describe("docs/gateway.md", () => {
  it("documents every setting with its flag, variable, config field and default", () => {
    const docs = readFileSync(new URL("../../docs/gateway.md", import.meta.url), "utf8");
    const rows = new Map(
      [
        ...docs.matchAll(
          /^\|\s*(?:`(--[a-z-]+)[^`]*`|—)\s*\|\s*`(ONCELY_\w+)`\s*\|\s*`(\w+)`\s*\|\s*(?:`([^`]*)`|—)\s*\|/gm,
        ),
      ].map((match) => [match[3] as string, { flag: match[1], env: match[2], defaultText: match[4] }]),
    );
    const tables = {
      ...UPSTREAM_SETTINGS,
      ...SERVE_SETTINGS,
      ...LISTEN_SETTINGS,
      ...PROXY_SETTINGS,
      ...ENGINE_SETTINGS,
    };
    expect([...rows.keys()].sort()).toEqual(Object.keys(tables).sort());
    for (const [name, spec] of Object.entries(tables)) {
      expect(rows.get(name), name).toEqual({
        // A secret has no flag: its value would show in `ps`.
        flag: spec.secret ? undefined : flagName(name),
        env: envName(name),
        defaultText: spec.defaultText,
      });
    }
  });
});

describe("help", () => {
  it("oncely --help names the commands; oncely serve --help explains every setting with its variable", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    for (const command of ["serve", "keys", "demo"])
      expect(top.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    const serve = await runCli(["serve", "--help"]);
    expect(serve.code).toBe(0);
    const flat = serve.stdout.replace(/\s+/g, " ");
    for (const table of [
      UPSTREAM_SETTINGS,
      SERVE_SETTINGS,
      LISTEN_SETTINGS,
      PROXY_SETTINGS,
      ENGINE_SETTINGS,
    ]) {
      for (const [name, spec] of Object.entries(table)) {
        if (spec.secret) expect(flat).not.toContain(flagName(name));
        else expect(flat).toContain(flagName(name));
        expect(flat).toContain(envName(name));
        if (spec.defaultText) expect(flat).toContain(`default: ${spec.defaultText}`);
      }
    }
    expect(flat).toContain("--config <file>");
    expect(flat).toContain("default: 24h");
    expect(flat).toContain("default: 60s");
  });
});

describe("usage errors: one line on stderr and exit code 2", () => {
  const dir = temporaryDirectory();
  const unknownField = join(dir, "unknown.json");
  writeFileSync(unknownField, JSON.stringify({ upstream: "http://127.0.0.1:1", tll: "1h" }));
  const badField = join(dir, "bad.json");
  writeFileSync(badField, JSON.stringify({ upstream: "http://127.0.0.1:1", lease: "forever" }));
  const cases: Array<{ args: string[]; env?: Record<string, string>; says: string }> = [
    { args: ["serve", "--upstream", "http://127.0.0.1:1", "--ttl", "abc"], says: "--ttl" },
    { args: ["serve", "--upstream", "http://127.0.0.1:1", "--nope"], says: "unknown option '--nope'" },
    { args: ["serve"], says: "missing --upstream" },
    { args: ["serve", "--upstream", "ftp://127.0.0.1"], says: "--upstream" },
    { args: ["serve", "--upstream", "http://127.0.0.1:1", "--mismatch", "maybe"], says: "reject, ignore" },
    {
      args: ["serve", "--upstream", "http://127.0.0.1:1"],
      env: { ONCELY_MAX_KEY_LENGTH: "0" },
      says: "ONCELY_MAX_KEY_LENGTH",
    },
    { args: ["serve", "--upstream", "http://127.0.0.1:1", "--store", "nosuch:"], says: "--store" },
    { args: ["serve", "--config", unknownField], says: 'unknown setting "tll"' },
    { args: ["serve", "--config", badField], says: '"lease" in' },
    { args: ["serve", "--config", join(dir, "missing.json")], says: "no such file" },
    { args: ["keys", "list", "--limit", "none"], says: "--limit" },
  ];
  it.each(cases)("oncely $args.0 … → $says", async ({ args, env, says }) => {
    const run = await runCli(args, env);
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain(says);
  });
});

describe("settings precedence: flag > ONCELY_* variable > config file > default", () => {
  const gateways: GatewayProcess[] = [];
  afterAll(() => Promise.all(gateways.map((child) => child.stop("SIGKILL"))));

  it("takes each setting from the strongest source that sets it", async () => {
    const config = join(temporaryDirectory(), "oncely.json");
    writeFileSync(
      config,
      JSON.stringify({
        upstream: upstream.url,
        store: "memory:",
        replayHeader: "X-From-File",
        logLevel: "warn",
        methods: ["POST"],
      }),
    );
    const replayHeaderOf = async (gateway: GatewayProcess) => {
      gateways.push(gateway);
      const key = newKey();
      await send(gateway.url, { headers: { "idempotency-key": key } });
      const replay = await send(gateway.url, { headers: { "idempotency-key": key } });
      return ["x-from-file", "x-from-env", "x-from-flag"].find((name) => replay.headers.get(name) === "true");
    };
    const [file, env, flag] = await Promise.all([
      startGateway(["--config", config]),
      startGateway([], { ONCELY_CONFIG: config, ONCELY_REPLAY_HEADER: "X-From-Env" }),
      startGateway(["--config", config, "--replay-header", "X-From-Flag"], {
        ONCELY_REPLAY_HEADER: "X-From-Env",
      }),
    ]);
    expect(await replayHeaderOf(file)).toBe("x-from-file");
    expect(await replayHeaderOf(env)).toBe("x-from-env");
    expect(await replayHeaderOf(flag)).toBe("x-from-flag");
  });

  it("still reads a setting under the name it had before it took the option's name", async () => {
    const config = join(temporaryDirectory(), "old-names.json");
    writeFileSync(
      config,
      JSON.stringify({ upstream: upstream.url, store: "memory:", logLevel: "warn", keyHeader: "X-Old-File" }),
    );
    /** Whether the gateway reads keys from `header`: a second request with the same key there is a replay. */
    const readsKeyFrom = async (gateway: GatewayProcess, header: string) => {
      gateways.push(gateway);
      const key = newKey();
      await send(gateway.url, { headers: { [header]: key } });
      return (
        (await send(gateway.url, { headers: { [header]: key } })).headers.get("x-idempotency-replayed") ===
        "true"
      );
    };
    const [file, env, flag, newer] = await Promise.all([
      startGateway(["--config", config]),
      startGateway(["--config", config], { ONCELY_KEY_HEADER: "X-Old-Env" }),
      startGateway(["--config", config, "--key-header", "X-Old-Flag"]),
      startGateway(["--config", config, "--header", "X-New-Flag", "--key-header", "X-Old-Flag"]),
    ]);
    expect(await readsKeyFrom(file, "x-old-file")).toBe(true);
    expect(await readsKeyFrom(env, "x-old-env")).toBe(true);
    expect(await readsKeyFrom(flag, "x-old-flag")).toBe(true);
    expect(await readsKeyFrom(newer, "x-new-flag")).toBe(true);
    expect(await readsKeyFrom(newer, "x-old-flag")).toBe(false);
  });
});

describe("oncely keys", () => {
  const store = `sqlite:${join(temporaryDirectory(), "keys.db")}`;
  const key = newKey();
  const shared = newKey();

  beforeAll(async () => {
    const gateway = await startGateway(["--upstream", upstream.url, "--store", store, "--log-level", "warn"]);
    try {
      await send(gateway.url, {
        headers: { "idempotency-key": key, authorization: "Bearer very-secret" },
        body: "hello",
      });
      for (const user of ["alice", "bob"]) {
        await send(gateway.url, { headers: { "idempotency-key": shared, authorization: `Bearer ${user}` } });
      }
    } finally {
      await gateway.stop("SIGTERM");
    }
  }, 30_000);

  it("lists records as a table and as JSON", async () => {
    const table = await runCli(["keys", "list", "--store", store]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^STATE\s+STATUS\s+BYTES\s+CREATED\s+EXPIRES\s+KEY\s+SCOPE$/m);
    expect(table.stdout).toMatch(
      new RegExp(`^completed\\s+201\\s+\\d+\\s+\\S+\\s+\\S+\\s+${key}\\s+cred:`, "m"),
    );
    const json = await runCli(["keys", "list", "--json"], { ONCELY_STORE: store });
    const records = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { key: string });
    expect(records.map((record) => record.key).sort()).toEqual([key, shared, shared].sort());
  });

  it("shows status, headers, body size, fingerprint and times, never a credential", async () => {
    const shown = await runCli(["keys", "show", key, "--store", store]);
    expect(shown.code).toBe(0);
    for (const field of [
      "state",
      "fingerprint",
      "createdAt",
      "completedAt",
      "expiresAt",
      "status",
      "bodyBytes",
      "headers",
    ]) {
      expect(shown.stdout).toMatch(new RegExp(`^${field}\\b`, "m"));
    }
    expect(shown.stdout).toMatch(/^status\s+201$/m);
    expect(shown.stdout).toMatch(/^ {2}content-type: application\/json$/m);
    expect(shown.stdout).not.toContain("very-secret");
    expect(shown.stdout).not.toContain("token");
  });

  it("deletes a record, and asks for --scope when the key is in several scopes", async () => {
    const ambiguous = await runCli(["keys", "delete", shared, "--store", store]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain("--scope");
    const deleted = await runCli(["keys", "delete", key, "--store", store]);
    expect(deleted.code).toBe(0);
    const gone = await runCli(["keys", "show", key, "--store", store]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("no live record");
  });

  it("purges expired records, and every record with --all", async () => {
    expect((await runCli(["keys", "purge", "--store", store])).stdout).toContain("purged 0 expired records");
    expect((await runCli(["keys", "purge", "--all", "--store", store])).stdout).toContain("deleted 2 live");
    expect((await runCli(["keys", "list", "--json", "--store", store])).stdout).toBe("");
  });
});
