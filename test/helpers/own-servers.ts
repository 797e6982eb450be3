// Redis and PostgreSQL servers of a test's own, on loopback, in temporary directories: for
// tests that stop, restart or freeze the store (the shared servers must never be touched).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chownSync, existsSync, readdirSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./http.js";
import { temporaryDirectory } from "./stores.js";

/** A store server the test owns: stopped, started again on the same port and data, paused. */
export interface OwnServer {
  readonly url: string;
  /** Stops it: `crash` kills it outright (SIGKILL, PostgreSQL's immediate mode), else a clean shutdown. */
  stop(crash: boolean): Promise<void>;
  /** Starts it again on its port, with its data, and resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGSTOP (true) or SIGCONT (false) to every process of the server. */
  freeze(frozen: boolean): void;
  /** Ends it for good (Vitest's workers end without Node's "exit" event: call it in an after-hook). */
  close(): Promise<void>;
}

/** Why redis-server cannot run here, or undefined when it can. */
export function redisMissing(): string | undefined {
  return spawnSync("redis-server", ["--version"]).status === 0 ? undefined : "redis-server is not on PATH";
}

/** Why a PostgreSQL server cannot be set up here, or undefined when it can. */
export function postgresMissing(): string | undefined {
  return postgresBin() ? undefined : "no PostgreSQL server binaries (initdb, postgres) were found";
}

/** A redis-server that appends every write to its AOF and fsyncs it before answering. */
export async function ownRedis(): Promise<OwnServer> {
  const dir = temporaryDirectory();
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""];
  return ownServer(`redis://127.0.0.1:${port}`, {
    spawn: () => spawn("redis-server", [...args, "--appendonly", "yes", "--appendfsync", "always"]),
    ready: /Ready to accept connections/,
    signals: { crash: "SIGKILL", clean: "SIGTERM" },
  });
}

/** A PostgreSQL cluster of its own (run as the `postgres` user when the test runs as root). */
export async function ownPostgres(): Promise<OwnServer> {
  const bin = postgresBin();
  if (!bin) throw new Error(postgresMissing());
  const dir = temporaryDirectory();
  const data = join(dir, "data");
  const port = await freePort();
  // PostgreSQL refuses to run as root.
  const user: { uid?: number; gid?: number } = userInfo().uid === 0 ? postgresUser() : {};
  if (user.uid !== undefined && user.gid !== undefined) chownSync(dir, user.uid, user.gid);
  const init = spawnSync(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync"], {
    ...user,
    encoding: "utf8",
  });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const settings = [
    `listen_addresses=127.0.0.1`,
    `port=${port}`,
    `unix_socket_directories=${dir}`,
    "shared_buffers=16MB",
    "max_connections=40",
  ].flatMap((setting) => ["-c", setting]);
  return ownServer(`postgres://postgres@127.0.0.1:${port}/postgres`, {
    spawn: () => spawn(join(bin, "postgres"), ["-D", data, ...settings], { ...user, detached: true }),
    ready: /ready to accept connections/,
    // SIGQUIT is PostgreSQL's immediate shutdown (a crash, recovered at the next start); SIGINT its fast one.
    signals: { crash: "SIGQUIT", clean: "SIGINT" },
    group: true,
  });
}

interface ServerKind {
  spawn(): ChildProcess;
  ready: RegExp;
  signals: { crash: NodeJS.Signals; clean: NodeJS.Signals };
  /** Whether it runs as a process group (PostgreSQL's backends are processes of their own). */
  group?: boolean;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const server of running) server.kill("SIGKILL");
});

async function ownServer(url: string, kind: ServerKind): Promise<OwnServer> {
  let server: ChildProcess | undefined;
  const start = async () => {
    const child = kind.spawn();
    running.add(child);
    child.once("exit", () => running.delete(child));
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        if (kind.ready.test(output)) resolve();
      };
      child.stdout?.on("data", read);
      child.stderr?.on("data", read);
      child.once("exit", (code) =>
        reject(new Error(`${url} exited with ${code} before it was ready:\n${output}`)),
      );
    });
    server = child;
  };
  const signal = (name: NodeJS.Signals) => {
    if (!server?.pid || server.exitCode !== null || server.signalCode !== null) return;
    if (kind.group) process.kill(-server.pid, name);
    else server.kill(name);
  };
  await start();
  const own: OwnServer = {
    url,
    start,
    stop: async (crash) => {
      if (!server || server.exitCode !== null || server.signalCode !== null) return;
      const exited = once(server, "exit");
      signal(kind.signals[crash ? "crash" : "clean"]);
      await exited;
    },
    freeze: (frozen) => signal(frozen ? "SIGSTOP" : "SIGCONT"),
    close: async () => {
      signal("SIGCONT");
      await own.stop(true);
    },
  };
  return own;
}

function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "postgres"))) return bin;
  }
  const configured = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  const bin = configured.status === 0 ? configured.stdout.trim() : undefined;
  return bin && existsSync(join(bin, "postgres")) ? bin : undefined;
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) =>
    Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  if (!Number.isInteger(uid) || uid === 0) throw new Error("running as root, and there is no postgres user");
  return { uid, gid: id("-g") };
}
