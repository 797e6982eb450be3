import { describe, expect, it } from "vitest";
import { InvalidOptionError, InvalidStoreUrlError } from "../../src/core/errors.js";
import { createStore } from "../../src/stores/create-store.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { parseRedisUrl } from "../../src/stores/redis/url.js";

describe("Redis store URLs", () => {
  it("reads host, port, database, credentials and prefix", () => {
    expect(parseRedisUrl("redis://127.0.0.1")).toEqual({
      mode: "standalone",
      nodes: [{ host: "127.0.0.1", port: 6379 }],
      db: 0,
      tls: false,
    });
    expect(parseRedisUrl("rediss://user:p%40ss%2Fw0rd@cache.internal:6380/3?prefix=shop%3A")).toEqual({
      mode: "standalone",
      nodes: [{ host: "cache.internal", port: 6380 }],
      username: "user",
      password: "p@ss/w0rd",
      db: 3,
      tls: true,
      prefix: "shop:",
    });
    expect(parseRedisUrl("redis://:secret@[::1]:7000/").nodes).toEqual([{ host: "::1", port: 7000 }]);
    expect(parseRedisUrl("redis://:secret@[::1]:7000/").password).toBe("secret");
  });

  it("reads a cluster's seed list, with credentials for every node", () => {
    expect(parseRedisUrl("redis-cluster://app:pw@10.0.0.1:7101,10.0.0.2:7102,[::1]?prefix=p:")).toEqual({
      mode: "cluster",
      nodes: [
        { host: "10.0.0.1", port: 7101 },
        { host: "10.0.0.2", port: 7102 },
        { host: "::1", port: 6379 },
      ],
      username: "app",
      password: "pw",
      db: 0,
      tls: false,
      prefix: "p:",
    });
  });

  it.each([
    ["redis://:hunter2@host:99999", "valid URL"],
    ["redis://:hunter2@host/x", "database number"],
    ["redis://:hunter2@host/?password=hunter2", 'unknown parameter "password"'],
    ["redis://:hunter2@", "valid URL"],
    ["redis:///0", "no host"],
    ["redis://:hun/ter2@host", "valid URL"],
    ["redis://:hun?ter2@host", "valid URL"],
    ["redis://u:%zzhunter2@host", "percent-encoded"],
    ["redis-cluster://:hunter2@a:1,,b:2", "empty entry"],
    ["redis-cluster://:hunter2@a:1,b:99999", "valid URL"],
    ["redis-cluster://:hunter2@a:1,b:2/1", "only database 0"],
  ])("rejects %s without showing the password", (url, reason) => {
    let error: unknown;
    try {
      parseRedisUrl(url);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(InvalidStoreUrlError);
    expect((error as Error).message).toContain(reason);
    expect((error as Error).message).not.toMatch(/hunter|ter2/);
  });

  it("is what createStore uses for redis:, rediss: and redis-cluster:", async () => {
    for (const url of ["redis://:hunter2@h/x", "rediss://:hunter2@h/x", "redis-cluster://:hunter2@h:1/x"]) {
      await expect(createStore(url)).rejects.toBeInstanceOf(InvalidStoreUrlError);
    }
  });

  it("rejects a prefix that would break the hash tag, and a bad timeout, before connecting", async () => {
    await expect(createRedisStore({ url: "redis://127.0.0.1:1", prefix: "a{b}:" })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
    await expect(createRedisStore({ url: "redis://127.0.0.1:1", timeout: 0 })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
  });
});
