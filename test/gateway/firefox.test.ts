// A real headless Firefox ESR with `network.http.idempotencyKey.enabled` on, through
// `oncely serve --scope-cookie session`: its keys are accepted, each script request gets a new
// key and executes, and a retry with the browser's key and session cookie is replayed.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIREFOX, type FirefoxProcess, launchFirefox, missingBrowser } from "../helpers/browsers.js";
import { listen, readBody, send, type TestServer } from "../helpers/http.js";
import { unavailable } from "../helpers/services.js";
import { type GatewayProcess, startGateway } from "./helpers.js";

/**
 * What the page's script does: two identical POSTs (as a script's retry would), an upload
 * above the gateway's --max-upload-bytes, and a cross-origin simple POST (to the same gateway
 * as localhost); then it reports what it got.
 */
const PAGE = `<!doctype html><title>order</title><script>
(async () => {
  const order = () => fetch("/orders", { method: "POST", body: "widget" }).then((r) => r.text());
  const first = await order();
  const second = await order();
  const upload = (await fetch("/upload", { method: "POST", body: "x".repeat(4096) })).status;
  const other = location.protocol + "//localhost:" + location.port;
  await fetch(other + "/cross", { method: "POST", mode: "no-cors", body: "hello" });
  await fetch("/done", { method: "PUT", body: JSON.stringify({ first, second, upload }) });
})();
</script>`;

interface Report {
  readonly first: string;
  readonly second: string;
  readonly upload: number;
}

interface SeenPost {
  readonly path: string | undefined;
  readonly key: string | undefined;
  readonly cookie: string | undefined;
  readonly origin: string | undefined;
}

const missing = missingBrowser(FIREFOX, "firefox-esr");
if (missing) unavailable("Firefox's Idempotency-Key through the gateway", missing);
else
  describe("Firefox's Idempotency-Key through the gateway", () => {
    const session = randomBytes(12).toString("hex");
    const posts: SeenPost[] = [];
    const methods: string[] = [];
    let reported: (answers: Report) => void;
    const done = new Promise<Report>((resolve) => {
      reported = resolve;
    });
    let site: TestServer;
    let gateway: GatewayProcess;
    let firefox: FirefoxProcess | undefined;

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const body = await readBody(req);
      methods.push(req.method ?? "");
      if (req.method === "GET" && req.url === "/form") {
        res.setHeader("set-cookie", `session=${session}; Path=/; HttpOnly; SameSite=Lax`);
        res.setHeader("content-type", "text/html");
        res.end(PAGE);
      } else if (req.method === "POST") {
        const { cookie, origin } = req.headers;
        posts.push({ path: req.url, key: req.headers["idempotency-key"] as string, cookie, origin });
        res.statusCode = 201;
        res.end(`order-${posts.length}`);
      } else if (req.method === "PUT" && req.url === "/done") {
        reported(JSON.parse(body.toString()) as Report);
        res.end();
      } else {
        res.statusCode = 404;
        res.end();
      }
    }

    beforeAll(async () => {
      site = await listen((req, res) => void handle(req, res));
      gateway = await startGateway([
        "--upstream",
        site.url,
        "--store",
        "memory:",
        "--scope-cookie",
        "session",
        "--max-request-body",
        "1KiB",
        "--max-upload-bytes",
        "2KiB",
        "--log-level",
        "warn",
      ]);
    });

    afterAll(async () => {
      await firefox?.stop();
      await gateway?.stop("SIGKILL");
      await site?.close();
    });

    it("sends a quoted 64-bit number the gateway accepts; each script request gets a new key and executes", async () => {
      firefox = launchFirefox(`${gateway.url}/form`, { "network.http.idempotencyKey.enabled": true });
      const answers = await Promise.race([
        done,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("Firefox did not run the page within 60 s")), 60_000),
        ),
      ]);
      expect(answers.first).toBe("order-1");
      expect(answers.second).toBe("order-2");
      const orders = posts.filter((post) => post.path === "/orders");
      expect(orders).toHaveLength(2);
      for (const post of orders) {
        expect(post.key).toMatch(/^"\d{1,20}"$/);
        expect(BigInt((post.key as string).slice(1, -1))).toBeLessThan(2n ** 64n);
        expect(post.cookie).toBe(`session=${session}`);
      }
      expect(orders[0]?.key).not.toBe(orders[1]?.key);
    }, 90_000);

    it("answers 413 to an upload above --max-upload-bytes, because the browser gave it a key", async () => {
      expect((await done).upload).toBe(413);
      expect(posts.map((post) => post.path)).not.toContain("/upload");
    });

    it("gets a key on a cross-origin simple request too, without a preflight", async () => {
      const cross = posts.find((post) => post.path === "/cross");
      expect(cross?.key).toMatch(/^"\d{1,20}"$/);
      expect(cross?.origin).toBe(gateway.url);
      expect(methods).not.toContain("OPTIONS");
    });

    it("replays the browser's key within its session, and only there", async () => {
      const key = posts.find((post) => post.path === "/orders")?.key as string;
      const retry = (cookie?: string) =>
        send(`${gateway.url}/orders`, {
          headers: { "idempotency-key": key, ...(cookie ? { cookie } : {}) },
          body: "widget",
        });
      const replay = await retry(`session=${session}`);
      expect(replay.headers.get("x-idempotency-replayed")).toBe("true");
      expect(replay.text).toBe("order-1");
      const seen = posts.length;
      // Another session (or none) with the same key is another scope: it executes.
      const elsewhere = await retry("session=someone-else");
      expect(elsewhere.headers.get("x-idempotency-replayed")).toBeNull();
      expect(posts).toHaveLength(seen + 1);
    });
  });
