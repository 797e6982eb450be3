// `oncely demo` (npm start): the conversions, the quota, and the printed curl example run for real.
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConversionError, convert } from "../../src/demo/convert.js";
import { MonthlyQuota } from "../../src/demo/quota.js";
import { send } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { type CliProcess, startCli } from "./helpers.js";

const hasCurl = spawnSync("curl", ["--version"]).status === 0;
if (!hasCurl) console.warn("the demo's curl example is not run: curl is not installed");

describe("conversions", () => {
  it("converts CSV to JSON, JSON to CSV and Markdown to HTML", async () => {
    const json = await convert('name,note\nwidget,"a, b"\n', "text/csv; charset=utf-8", "json");
    expect(json.contentType).toBe("application/json");
    expect(JSON.parse(json.body)).toEqual([{ name: "widget", note: "a, b" }]);

    const csv = await convert(
      '[{"name":"widget","qty":2},{"name":"gadget","tags":["x"]}]',
      "application/json",
      "csv",
    );
    expect(csv.body).toBe('name,qty,tags\nwidget,2,\ngadget,,"[""x""]"\n');

    const html = await convert("# Hi *there*\n\n<script>alert(1)</script>\n", "text/markdown", "html");
    expect(html.body).toContain("<h1>Hi <em>there</em></h1>");
    expect(html.body).not.toContain("<script>");
  });

  it("rejects unsupported pairs with 415 and malformed input with 400", async () => {
    await expect(convert("a,b", "text/csv", "html")).rejects.toMatchObject({ status: 415 });
    await expect(convert("a", "image/png", "json")).rejects.toMatchObject({ status: 415 });
    await expect(convert("{oops", "application/json", "csv")).rejects.toBeInstanceOf(ConversionError);
    await expect(convert("[1,2]", "application/json", "csv")).rejects.toMatchObject({ status: 400 });
    await expect(convert('a,b\n"unclosed', "text/csv", "json")).rejects.toMatchObject({ status: 400 });
  });
});

describe("monthly quota", () => {
  it("counts per API key and starts again each month", () => {
    let now = new Date("2025-01-31T23:59:00Z");
    const quota = new MonthlyQuota(2, () => now);
    expect(quota.consume("a")).toBe(true);
    expect(quota.consume("a")).toBe(true);
    expect(quota.consume("a")).toBe(false);
    expect(quota.usage("b")).toMatchObject({ used: 0, remaining: 2 });
    expect(quota.usage("a")).toMatchObject({
      period: "2025-01",
      used: 2,
      remaining: 0,
      resetsAt: "2025-02-01T00:00:00.000Z",
    });
    now = new Date("2025-02-01T00:00:01Z");
    expect(quota.usage("a")).toMatchObject({ period: "2025-02", used: 0, remaining: 2 });
  });
});

describe("oncely demo", () => {
  let demo: CliProcess;
  let printed = "";

  beforeAll(async () => {
    const store = `sqlite:${join(temporaryDirectory(), "demo.db")}`;
    demo = await startCli(["demo", "--port", "0", "--store", store, "--quota", "5"], "Ctrl-C stops the demo");
    printed = demo.output();
  }, 30_000);

  afterAll(() => demo?.stop());

  it.skipIf(!hasCurl)(
    "prints a curl example whose commands show a first call, a replay and the quota left",
    () => {
      const commands = [...printed.matchAll(/^ {4}(curl [\s\S]*?)(?:\n\n)/gm)].map((match) =>
        (match[1] as string).trim(),
      );
      expect(commands).toHaveLength(2);
      const [convertCommand, quotaCommand] = commands as [string, string];
      const run = (command: string) =>
        execFileSync("bash", ["-c", command], {
          encoding: "utf8",
          timeout: 10_000,
          stdio: ["ignore", "pipe", "ignore"],
        });

      const first = run(convertCommand);
      expect(first).toMatch(/^HTTP\/1\.1 200/);
      expect(first).toMatch(/^x-quota-remaining: 4\r$/m);
      expect(first).not.toMatch(/x-idempotency-replayed/i);
      expect(first).toContain("name,qty\nwidget,2\ngadget,5\n");
      const conversionId = /^x-conversion-id: (\S+)\r$/m.exec(first)?.[1];

      for (let i = 0; i < 2; i++) {
        const replay = run(convertCommand);
        expect(replay).toMatch(/^x-idempotency-replayed: true\r$/m);
        expect(replay).toContain(`x-conversion-id: ${conversionId}`);
      }
      expect(JSON.parse(run(quotaCommand))).toMatchObject({ limit: 5, used: 1, remaining: 4 });
    },
  );

  it("links to its dashboard with a token made up for this run, which opens the page's API", async () => {
    const link = /^ {2}dashboard\s+(\S+)\/#token=(\S+)$/m.exec(printed);
    expect(link, printed).not.toBeNull();
    const [, page, token] = link as unknown as [string, string, string];
    expect(token.length).toBeGreaterThanOrEqual(16);
    expect((await send(`${page}/`, { method: "GET" })).text).toContain("<title>oncely dashboard");
    expect((await send(`${page}/api/activity`, { method: "GET" })).status).toBe(401);
    const activity = await send(`${page}/api/activity`, {
      method: "GET",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(activity.status).toBe(200);
  });

  it("answers 401 without an API key and 429 when the quota is used up, which is not stored", async () => {
    const url = /^ {2}gateway\s+(\S+)/m.exec(printed)?.[1] as string;
    expect((await send(`${url}/v1/quota`, { method: "GET" })).status).toBe(401);
    const headers = (key: string) => ({
      authorization: "Bearer quota-test",
      "idempotency-key": key,
      "content-type": "text/markdown",
    });
    for (let i = 0; i < 5; i++)
      expect(
        (await send(`${url}/v1/convert?target=html`, { headers: headers(`q${i}`), body: "# hi" })).status,
      ).toBe(200);
    const over = await send(`${url}/v1/convert?target=html`, { headers: headers("q-over"), body: "# hi" });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
    // 429 says "try again later": the key was released, so the same retry is not answered from the store.
    const again = await send(`${url}/v1/convert?target=html`, { headers: headers("q-over"), body: "# hi" });
    expect(again.status).toBe(429);
    expect(again.headers.get("x-idempotency-replayed")).toBeNull();
  });
});
