// Shared pieces of the gateway suites: a real upstream server in the test process, the
// real `oncely serve` in a child process, and raw requests for what fetch cannot send.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { countingHandler, listen, type TestServer } from "../helpers/http.js";
import { type Child, startChild } from "../helpers/processes.js";

/** What the upstream saw of one request. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

/** The upstream of the gateway suites: counts executions and records every request it got. */
export interface Upstream extends TestServer {
  count(): number;
  readonly seen: SeenRequest[];
}

/**
 * Starts a counting upstream on loopback. Request headers steer it (the gateway passes them on):
 * `x-delay` (ms before answering), `x-status`, `x-size` (a streamed body of that many patterned bytes),
 * `x-chunks` + `x-chunk-delay` (a streamed body without Content-Length), `x-set-cookie`, `x-break`
 * (the connection drops half-way through the body).
 * Otherwise it answers 201 with JSON naming the execution count.
 */
export async function startUpstream(port = 0): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const counter = countingHandler(async (req, res, body, count) => {
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body,
    });
    await respond(req, res, body, count);
  });
  const server = port === 0 ? await listen(counter.handler) : await listenOn(port, counter.handler);
  return { ...server, count: counter.count, seen };
}

async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  count: number,
): Promise<void> {
  const header = (name: string) => req.headers[name] as string | undefined;
  const delay = Number(header("x-delay") ?? 0);
  if (delay > 0) await sleep(delay);
  res.statusCode = Number(header("x-status") ?? 201);
  if (header("x-set-cookie")) res.setHeader("set-cookie", ["session=secret; HttpOnly", "theme=dark"]);
  res.setHeader("x-upstream", "yes");
  if (header("x-break")) {
    // Headers and a first chunk, then the connection drops: the response breaks off half-way.
    res.setHeader("content-length", "1000");
    res.write("partial");
    await sleep(50);
    res.destroy();
    return;
  }
  const chunks = Number(header("x-chunks") ?? 0);
  if (chunks > 0) {
    const chunkDelay = Number(header("x-chunk-delay") ?? 0);
    res.setHeader("content-type", "text/plain");
    for (let i = 0; i < chunks; i++) {
      res.write(`chunk ${i} of execution ${count}\n`);
      await sleep(chunkDelay);
    }
    res.end();
    return;
  }
  const size = header("x-size");
  if (size !== undefined) {
    // Written in pieces without Content-Length: the response streams (chunked) through the gateway.
    res.setHeader("content-type", "application/octet-stream");
    const bytes = patterned(Number(size), count);
    for (let offset = 0; offset < bytes.length; offset += 64 * 1024) {
      if (!res.write(bytes.subarray(offset, offset + 64 * 1024))) await once(res, "drain");
    }
    res.end();
    return;
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ count, method: req.method, url: req.url, body: body.toString("utf8") }));
}

/** `size` bytes that differ from one execution to the next. */
export function patterned(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  return bytes;
}

/** `listen` on a fixed port, for an upstream that comes back where it was. */
async function listenOn(port: number, handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer(handler);
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A gateway child process with its JSON log lines. */
export interface GatewayProcess extends Child {
  /** Log lines parsed so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal) once the process has ended. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

/** CLI entry point, run from source. */
export const CLI = "src/cli/main.ts";

/**
 * Starts `oncely serve --port 0 ...args` and waits until it listens. `env` adds variables
 * for this process only (children copy the environment when they are spawned).
 */
export async function startGateway(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<GatewayProcess> {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  let starting: Promise<Child>;
  try {
    // startChild spawns before it first awaits, so the variables can be put back at once
    // and gateways started side by side never see each other's.
    starting = startChild(CLI, ["serve", "--port", "0", ...args]);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  const child = await starting;
  const logs: Array<Record<string, unknown>> = [];
  let pending = "";
  child.process.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines)
      if (line.startsWith("{")) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    if (child.process.exitCode !== null) resolve(child.process.exitCode);
    child.process.once("exit", (code, signal) => resolve(code ?? (signal as NodeJS.Signals)));
  });
  return { ...child, logs, exited };
}

/** A CLI process whose whole standard output is kept. */
export interface CliProcess {
  readonly process: ChildProcess;
  /** Everything printed on stdout so far. */
  output(): string;
  /** Kills the process by its pid and waits for it to end. */
  stop(): Promise<void>;
}

/** Starts `oncely ...args` and waits (at most `timeoutMs`) until its stdout contains `ready`. */
export async function startCli(
  args: readonly string[],
  ready: string,
  timeoutMs = 20_000,
): Promise<CliProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`oncely ${args.join(" ")} printed no "${ready}": ${stderr}`)),
      timeoutMs,
    );
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`oncely ${args.join(" ")} exited with ${code}: ${stderr}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { process: child, output: () => stdout, stop };
}

/** The result of running the CLI to completion. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `oncely ...args` to completion (at most `timeoutMs`). */
export async function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<CliRun> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/**
 * A raw HTTP/1.1 request, for what fetch refuses to send (repeated headers) or hides (streaming).
 * A raw header list gets `Host` added, which Node adds by itself only to header objects.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: string[] | Record<string, string> },
): http.ClientRequest {
  const headers = Array.isArray(options.headers)
    ? ["Host", new URL(url).host, ...options.headers]
    : (options.headers ?? {});
  return http.request(url, { method: options.method ?? "POST", headers, agent: false });
}

/** Waits for a response to `request` and reads its body. */
export async function readResponse(
  request: http.ClientRequest,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const [response] = (await once(request, "response")) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) };
}
