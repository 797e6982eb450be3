import { describe, expect, it } from "vitest";
import { parsePostgresUrl } from "../../src/stores/postgres/url.js";
import { redactUrl } from "../../src/stores/redact-url.js";
import { parseRedisUrl } from "../../src/stores/redis/url.js";

describe("redactUrl", () => {
  it.each([
    // Passwords in the user information, escaped or not.
    ["postgres://app:s3cret@db.internal/oncely", "postgres://app:***@db.internal/oncely"],
    ["redis://user:p@ss/w@host:6379/0", "redis://user:***@host:6379/0"],
    ["rediss://:token@cache:6380", "rediss://:***@cache:6380"],
    ["redis-cluster://u:s3cret@h1:7001,h2:7002?prefix=x:", "redis-cluster://u:***@h1:7001,h2:7002?prefix=x:"],
    // pg honours a password in the query.
    ["postgres://app@db/prod?password=s3cret", "postgres://app@db/prod?password=***"],
    [
      "postgresql://app@db/prod?sslmode=require&sslpassword=s3cret&table=keys",
      "postgresql://app@db/prod?sslmode=require&sslpassword=***&table=keys",
    ],
    ["postgres://db/prod?PassWord=s3cret&x", "postgres://db/prod?PassWord=***&***"],
    ["postgres://app:a@b@db/prod?password=c@d#frag", "postgres://app:***@d#***"],
    ["postgres://db/prod?password=a@b", "postgres://***@b"],
    // Nothing to hide: no ":***" where there was no password.
    ["postgres://app@db/prod", "postgres://app@db/prod"],
    ["redis://cache:6379/2?prefix=shop:", "redis://cache:6379/2?prefix=shop:"],
    ["sqlite:./.oncely/oncely.db", "sqlite:./.oncely/oncely.db"],
    ["memory:", "memory:"],
  ])("shows %s as %s", (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});

describe("store URL errors", () => {
  it.each([
    ["postgres://app:s3cret@db/prod?table=bad-name&password=s3cret", () => parsePostgresUrl],
    ["redis://app:s3cret@host/not-a-number?password=s3cret", () => parseRedisUrl],
    ["redis-cluster://app:s3cret@h1:7001,,h2?password=s3cret", () => parseRedisUrl],
  ])("never show the password of %s", (url, parser) => {
    expect(() => parser()(url)).toThrow(/:\*\*\*@/);
    expect(() => parser()(url)).not.toThrow(/s3cret/);
  });
});
