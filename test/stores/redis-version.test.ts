import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnsupportedServerError } from "../../src/core/errors.js";
import { checkServerVersion } from "../../src/stores/redis/connection.js";
import { createRedisStore, RedisStore } from "../../src/stores/redis/index.js";
import { runCli } from "../gateway/helpers.js";
import { serviceUrl } from "../helpers/services.js";

// No Redis older than 7.0 can be installed on this machine (Debian's is 7.0), so these
// tests talk to a stand-in on loopback that answers as Redis 6.2 does: `INFO` reports its
// version and `SET … NX GET` is a syntax error (6.2 refuses NX with GET).

/** Replies, in RESP, to each command a client sends: `INFO`, `SET`, and `QUIT`. */
function answer(command: readonly string[]): string {
  const name = command[0]?.toUpperCase();
  if (name === "INFO") {
    const info =
      "# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n# Persistence\r\nloading:0\r\n";
    return `$${Buffer.byteLength(info)}\r\n${info}\r\n`;
  }
  if (name === "SET") return "-ERR syntax error\r\n";
  if (name === "QUIT") return "+OK\r\n";
  return `-ERR unknown command '${command[0]}'\r\n`;
}

/** Splits complete RESP arrays of bulk strings off the front of `buffer`. */
function commandsIn(buffer: string): { commands: string[][]; rest: string } {
  const commands: string[][] = [];
  let rest = buffer;
  for (;;) {
    const match = /^\*(\d+)\r\n/.exec(rest);
    if (!match) return { commands, rest };
    let at = match[0].length;
    const command: string[] = [];
    for (let i = 0; i < Number(match[1]); i++) {
      const header = /^\$(\d+)\r\n/.exec(rest.slice(at));
      if (!header || rest.length < at + header[0].length + Number(header[1]) + 2) return { commands, rest };
      at += header[0].length;
      command.push(rest.slice(at, at + Number(header[1])));
      at += Number(header[1]) + 2;
    }
    commands.push(command);
    rest = rest.slice(at);
  }
}

let server: Server;
let url: string;
const sockets = new Set<Socket>();
const received: string[][] = [];

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    let pending = "";
    socket.setEncoding("latin1");
    socket.on("data", (data: string) => {
      const { commands, rest } = commandsIn(pending + data);
      pending = rest;
      for (const command of commands) {
        received.push(command);
        socket.write(answer(command));
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `redis://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  server.close();
});

describe("Redis store on a server older than 7.0", () => {
  it("is refused when the store connects, naming the version, and the connection is closed", async () => {
    const error = await createRedisStore({ url }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnsupportedServerError);
    expect(error).toMatchObject({ code: "ONCELY_UNSUPPORTED_SERVER", serverVersion: "6.2.14" });
    expect((error as Error).message).toBe(
      `Redis at ${url.slice("redis://".length)} is version 6.2.14; the Redis store needs 7.0 or later`,
    );
    await expect.poll(() => sockets.size).toBe(0);
  });

  it("fails a claim with the same error when the caller brought the client", async () => {
    const client = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    await client.connect();
    try {
      const store = new RedisStore(client);
      const claim = store.claim({ scope: "s", key: "k", fingerprint: "f", token: "t", leaseMs: 1000 });
      await expect(claim).rejects.toBeInstanceOf(UnsupportedServerError);
      await expect(claim).rejects.toThrow(/needs 7\.0 or later/);
      expect(received.some((command) => command[0]?.toUpperCase() === "SET")).toBe(true);
    } finally {
      client.disconnect();
    }
  });

  it("stops `oncely serve` with a one-line error and a non-zero exit", async () => {
    const run = await runCli(["serve", "--upstream", "http://127.0.0.1:9", "--store", url]);
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/is version 6\.2\.14; the Redis store needs 7\.0 or later/);
  });
});

describe("checkServerVersion", () => {
  it.each([
    ["7.0.15", true],
    ["7.2.4", true],
    ["8.0.1", true],
    ["6.2.14", false],
    ["5.0.7", false],
  ])("Redis %s is accepted: %s", (version, accepted) => {
    const check = () => checkServerVersion(`# Server\r\nredis_version:${version}\r\n`, "here:6379");
    if (accepted) expect(check).not.toThrow();
    else expect(check).toThrow(UnsupportedServerError);
  });
});

const redisUrl = serviceUrl("ONCELY_TEST_REDIS_URL", "Redis store, version check under an ACL without INFO");
if (redisUrl) {
  describe("Redis store, version check under an ACL without INFO", () => {
    it("connects and claims when the user may not run INFO", async () => {
      const admin = new Redis(redisUrl);
      const user = `oncely-no-info-${process.pid}`;
      await admin.call("ACL", "SETUSER", user, "on", ">secret", "~*", "&*", "+@all", "-info");
      try {
        const url = new URL(redisUrl);
        url.username = user;
        url.password = "secret";
        const store = await createRedisStore({ url: url.href });
        try {
          const claim = await store.claim({
            scope: "s",
            key: `k-${Date.now()}`,
            fingerprint: "f",
            token: "t",
            leaseMs: 1000,
          });
          expect(claim.outcome).toBe("acquired");
          await expect(store.list({ limit: 1 })).resolves.toBeDefined();
        } finally {
          await store.close();
        }
        const denied = new Redis(url.href);
        await expect(denied.info("server")).rejects.toThrow(/NOPERM/);
        denied.disconnect();
      } finally {
        await admin.call("ACL", "DELUSER", user);
        admin.disconnect();
      }
    });
  });
}
