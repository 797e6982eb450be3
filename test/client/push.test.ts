import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { listen, type TestServer } from "../helpers/http.js";
import { temporaryDirectory } from "../helpers/stores.js";
import { push, startPush, summaryOf } from "./processes.js";
import { scriptedServer, transformed, type UploadServer, uploadServer } from "./servers.js";

const servers: TestServer[] = [];
async function track<T extends TestServer>(server: Promise<T>): Promise<T> {
  servers.push(await server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A working directory with `count` text files under in/ (and one in in/sub/). */
function workspace(count: number): { cwd: string; files: string[] } {
  const cwd = temporaryDirectory();
  mkdirSync(join(cwd, "in", "sub"), { recursive: true });
  const files = Array.from({ length: count }, (_, i) => (i === 0 ? "in/sub/first.txt" : `in/file-${i}.txt`));
  for (const [i, file] of files.entries())
    writeFileSync(join(cwd, file), `content of file ${i}\n`.repeat(i + 1));
  return { cwd, files };
}

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
};

describe("oncely push", () => {
  it("sends each file, writes each answer under --out at a predictable name, and skips them all on a rerun", async () => {
    const server = await track(uploadServer({ guarded: true }));
    const { cwd, files } = workspace(5);
    const args = ["in/**/*.txt", "--to", server.url, "--out", "out", "--ext", "up"];
    const first = await push(args, cwd);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/5 executed, 0 replayed, 0 skipped by checkpoint, 0 failed/);
    for (const file of files) {
      const output = join(cwd, "out", file.replace(/\.txt$/, ".up"));
      expect(readFileSync(output, "utf8")).toBe(transformed(readFileSync(join(cwd, file))));
    }
    const second = await push(args, cwd);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/0 executed, 0 replayed, 5 skipped by checkpoint, 0 failed/);
    expect(server.executions()).toBe(5);

    // A changed file has a new key: it is sent again, the others stay skipped.
    writeFileSync(join(cwd, files[2] as string), "changed content\n");
    const third = await push(args, cwd);
    expect(third.stderr).toMatch(/1 executed, 0 replayed, 4 skipped by checkpoint, 0 failed/);
    expect(readFileSync(join(cwd, "out/in/file-2.up"), "utf8")).toBe(
      transformed(Buffer.from("changed content\n")),
    );
  });

  it("sends --param in the query, --header as headers, and a stable key per file and operation", async () => {
    const server = await track(scriptedServer([{ status: 200 }]));
    const { cwd } = workspace(1);
    const args = [
      "in/sub/first.txt",
      "--to",
      `${server.url}/convert`,
      "--header",
      "Authorization: Bearer s3cret",
    ];
    await push([...args, "--param", "target=jpg", "--checkpoint", "a.journal"], cwd);
    await push([...args, "--param", "target=jpg", "--checkpoint", "b.journal"], cwd);
    await push([...args, "--param", "target=png", "--checkpoint", "c.journal"], cwd);
    const [jpg, jpgAgain, png] = server.attempts;
    expect(jpg?.headers.authorization).toBe("Bearer s3cret");
    expect(jpg?.body.toString()).toBe("content of file 0\n");
    expect(jpg?.key).toMatch(/^file_/);
    expect(jpgAgain?.key).toBe(jpg?.key);
    expect(png?.key).not.toBe(jpg?.key);
  });

  it("sends multipart/form-data with --form", async () => {
    const server = await track(scriptedServer([{ status: 200 }]));
    const { cwd } = workspace(1);
    expect((await push(["in/sub/first.txt", "--to", server.url, "--form", "upload"], cwd)).code).toBe(0);
    const [attempt] = server.attempts;
    expect(attempt?.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    const body = attempt?.body.toString() ?? "";
    expect(body).toContain('Content-Disposition: form-data; name="upload"; filename="first.txt"');
    expect(body).toContain("content of file 0\n");
  });

  it("reports a 4xx answer and an unreadable file per file, finishes the others and exits 1", async () => {
    const server = await track(
      uploadServer({
        guarded: false,
        respond: (body, res) => {
          if (!body.toString().startsWith("content of file 2")) return false;
          res.writeHead(422, { "content-type": "application/problem+json" });
          res.end(JSON.stringify({ title: "Unprocessable", detail: "file 2 is not an image" }));
          return true;
        },
      }),
    );
    const { cwd } = workspace(4);
    const result = await push(["in/*.txt", "in/missing.txt", "--to", server.url, "--out", "out"], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("failed in/file-2.txt: server answered 422: file 2 is not an image\n");
    expect(result.stderr).toMatch(/failed in\/missing\.txt: ENOENT: no such file or directory/);
    expect(result.stderr).toMatch(/2 executed, 0 replayed, 0 skipped by checkpoint, 2 failed/);
    expect(readdirSync(join(cwd, "out/in")).sort()).toEqual(["file-1.txt", "file-3.txt"]);
    expect(server.executions()).toBe(3);
  });

  it("says the server is unreachable after the retries, and exits 1", async () => {
    const closed = await listen(() => {});
    await closed.close();
    const { cwd } = workspace(1);
    const result = await push(["in/sub/first.txt", "--to", closed.url], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /failed in\/sub\/first\.txt: POST http:\/\/127\.0\.0\.1:\d+\/: no response: connect ECONNREFUSED .* \(5 attempts\)/,
    );
  });

  it.each([
    [["in/*.txt"], /^error: required option '--to <url>' not specified\n$/],
    [["in/*.txt", "--to", "ftp://example"], /^error: --to must be an http or https URL\n$/],
    [
      ["in/*.txt", "--to", "http://x", "--header", "no colon"],
      /^error: --header "no colon" must look like "Name: value"\n$/,
    ],
    [
      ["in/*.txt", "--to", "http://x", "--param", "novalue"],
      /^error: --param "novalue" must look like name=value\n$/,
    ],
    [["nothing/*.png", "--to", "http://x"], /^error: no file matches nothing\/\*\.png\n$/],
    [
      ["in/*.txt", "--to", "http://x", "--concurrency", "0"],
      /^error: option '--concurrency <n>' argument '0' is invalid/,
    ],
  ])("exits 2 with one line for a usage error: %j", async (args, message) => {
    const { cwd } = workspace(1);
    const result = await push(args, cwd);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("saves progress on Ctrl-C (exit 130), and the rerun finishes the rest", async () => {
    const server: UploadServer = await track(uploadServer({ guarded: true, delay: 150 }));
    const { cwd, files } = workspace(16);
    const args = ["in/**/*.txt", "--to", server.url, "--out", "out", "--concurrency", "2"];
    const child = startPush(args, cwd);
    await until(() => server.executions() >= 6);
    child.process.kill("SIGINT");
    const { code } = await child.exited;
    expect(code).toBe(130);
    expect(child.stderr()).toMatch(
      /interrupted: progress saved in \.oncely\/push\.journal; run the same command/,
    );
    const journal = readFileSync(join(cwd, ".oncely/push.journal"), "utf8").trim().split("\n");
    const done = journal.length - 1;
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(16);

    const rest = await push(args, cwd);
    expect(rest.code).toBe(0);
    const counts = summaryOf(rest.stderr);
    expect(counts.skipped).toBe(done);
    expect(counts.executed + counts.replayed).toBe(16 - done);
    for (const file of files) {
      expect(readFileSync(join(cwd, "out", file), "utf8")).toBe(transformed(readFileSync(join(cwd, file))));
    }
    expect([...server.perBody.values()].every((count) => count === 1)).toBe(true);
  });
});

describe("oncely push: media types and replayed answers", () => {
  /** One file per name under in/, each holding its name. */
  function files(...names: string[]): string {
    const cwd = temporaryDirectory();
    mkdirSync(join(cwd, "in"));
    for (const name of names) writeFileSync(join(cwd, "in", name), name);
    return cwd;
  }
  const typeOf = (server: { attempts: { body: Buffer; headers: Record<string, unknown> }[] }) =>
    Object.fromEntries(server.attempts.map((a) => [a.body.toString(), a.headers["content-type"]]));

  it("sends the Content-Type of each file's extension, application/octet-stream for an unknown one", async () => {
    const server = await track(scriptedServer([{ status: 200 }]));
    const cwd = files("a.csv", "b.json", "c.md", "d.unknownext");
    expect((await push(["in/*", "--to", server.url], cwd)).code).toBe(0);
    expect(typeOf(server)).toEqual({
      "a.csv": "text/csv; charset=utf-8",
      "b.json": "application/json; charset=utf-8",
      "c.md": "text/markdown; charset=utf-8",
      "d.unknownext": "application/octet-stream",
    });
  });

  it("takes --content-type, then a --header Content-Type, for every file; a form part gets the type", async () => {
    const server = await track(scriptedServer([{ status: 200 }]));
    const cwd = files("a.csv", "b.txt");
    const header = ["--header", "Content-Type: text/plain"];
    await push(["in/*", "--to", server.url, ...header, "--content-type", "text/x-custom"], cwd);
    expect(typeOf(server)).toEqual({ "a.csv": "text/x-custom", "b.txt": "text/x-custom" });
    server.attempts.length = 0;
    await push(["in/*", "--to", server.url, ...header, "--checkpoint", "other.journal"], cwd);
    expect(typeOf(server)).toEqual({ "a.csv": "text/plain", "b.txt": "text/plain" });
    server.attempts.length = 0;
    await push(["in/a.csv", "--to", server.url, "--form", "upload", "--checkpoint", "form.journal"], cwd);
    const [form] = server.attempts;
    expect(form?.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(form?.body.toString()).toContain('filename="a.csv"\r\nContent-Type: text/csv; charset=utf-8');
  });

  it("counts a replayed error as a replay, not a failure, keeps it out of the journal and exits 1", async () => {
    const server = await track(
      uploadServer({
        guarded: true,
        respond: (body, res) => {
          if (body.toString() !== "bad.csv") return false;
          res.writeHead(422, { "content-type": "application/problem+json" });
          res.end(JSON.stringify({ title: "Unprocessable", detail: "bad.csv has no header row" }));
          return true;
        },
      }),
    );
    const cwd = files("bad.csv", "good.csv");
    const args = ["in/*", "--to", server.url];
    const first = await push(args, cwd);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("failed in/bad.csv: server answered 422: bad.csv has no header row\n");
    expect(summaryOf(first.stderr)).toEqual({ executed: 1, replayed: 0, skipped: 0, failed: 1 });

    // The server stored its 422 under the file's key: the rerun gets it replayed.
    const second = await push(args, cwd);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      "replayed error for in/bad.csv: server answered 422: bad.csv has no header row\n",
    );
    expect(summaryOf(second.stderr)).toEqual({ executed: 0, replayed: 1, skipped: 1, failed: 0 });
    expect(second.stderr).toMatch(/1 of the replayed answers were errors the server stored earlier/);
    expect(second.stderr).not.toMatch(/warning: .*checkpoint/);
    expect(server.executions()).toBe(2);
  });
});
