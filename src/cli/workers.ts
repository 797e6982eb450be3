/**
 * `oncely serve --workers N`: N gateway processes on one port (node:cluster), sharing one
 * store. The primary only supervises: it forks the workers, announces the port once all of
 * them listen, restarts a worker that dies, and on SIGTERM/SIGINT passes the signal on and
 * exits once every worker has drained.
 * @module
 */
import cluster, { type Worker } from "node:cluster";
import { createProcessLogger, type LogLevel } from "../gateway/logging.js";
import { GATEWAY_DEFAULTS } from "../gateway/options.js";
import { UsageError } from "./settings.js";

/** Stores that live inside one process, so that workers could not share them. */
const PROCESS_LOCAL_STORE = /^memory:/i;

/**
 * Refuses a worker count that cannot work with the store.
 * @throws {UsageError} when `workers` > 1 and the store lives in one process
 */
export function checkWorkers(workers: number, storeUrl: string): void {
  if (workers > 1 && PROCESS_LOCAL_STORE.test(storeUrl)) {
    throw new UsageError(
      `--workers ${workers} needs a store the processes share (sqlite:, redis://, postgres://); the memory store lives in one process`,
    );
  }
}

/**
 * Runs as the primary of `workers` gateway processes; resolves once all of them listen.
 * A worker that exits before every worker listens (a setting the gateway rejects, a port in
 * use — the worker has said why on stderr) ends them all with exit code 1 instead of being
 * restarted over and over.
 */
export async function superviseWorkers(workers: number, logLevel: LogLevel | undefined): Promise<void> {
  const { logger, close: closeLog } = createProcessLogger(logLevel ?? GATEWAY_DEFAULTS.logLevel);
  let stopping = false;
  let started = false;
  let exitCode = 0;
  const live = new Set<Worker>();
  const fork = () => {
    const worker = cluster.fork();
    live.add(worker);
    worker.once("exit", (code, signal) => {
      live.delete(worker);
      if (!started && !stopping) {
        logger.error(
          { worker: worker.process.pid, code, signal },
          "a worker could not start; stopping them all",
        );
        exitCode = 1;
        shutdown("SIGTERM");
      }
      if (stopping) {
        if (live.size === 0) {
          logger.info({}, "stopped");
          void closeLog().then(() => process.exit(exitCode));
        }
        return;
      }
      logger.error({ worker: worker.process.pid, code, signal }, "worker died; starting another");
      fork();
    });
    return worker;
  };
  const ready = Array.from({ length: workers }, () => {
    const worker = fork();
    return new Promise<number>((resolve) => worker.once("listening", (address) => resolve(address.port)));
  });
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: live.size }, "shutting down: every worker drains its requests");
    for (const worker of live) worker.process.kill(signal);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  const ports = await Promise.all(ready);
  started = true;
  const announcer = logger.level === "silent" ? logger : logger.child({}, { level: "info" });
  announcer.info({ workers }, `listening ${ports[0]}`);
}
