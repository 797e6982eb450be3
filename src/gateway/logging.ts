/**
 * The process logger of `oncely serve` and `oncely demo`, built on pino. The gateway itself
 * takes any `GatewayLogger`, so embedding it never loads pino.
 * @module
 */
import { type Logger, pino } from "pino";

/** Log levels `--log-level` accepts, from the noisiest to none at all. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How long {@link ProcessLogger.close} waits for a reader that takes no more lines. */
const CLOSE_TIMEOUT_MS = 2_000;

/** A JSON-lines logger on standard output, and a way to write out its last lines before the process exits. */
export interface ProcessLogger {
  readonly logger: Logger;
  /**
   * Writes out whatever is still buffered, in order, and closes standard output; resolves
   * when that is done, at once when nobody reads standard output any more (its pipe was
   * closed), and after 2 s at most. Call it, and await it, before exiting.
   */
  close(): Promise<void>;
}

/**
 * Creates the pino logger of `oncely serve`: one JSON object per line on stdout. Writes
 * are asynchronous so that logging never holds a request up.
 */
export function createProcessLogger(level: LogLevel): ProcessLogger {
  const destination = pino.destination({ dest: 1, sync: false });
  // A closed pipe (`oncely serve | tee log`, then Ctrl-C) fails every write with EPIPE; pino
  // then drops further lines, and so do we.
  let readerGone = false;
  destination.on("error", () => {
    readerGone = true;
  });
  const logger = pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
  const close = () =>
    new Promise<void>((resolve) => {
      if (readerGone) return resolve();
      // Not flushSync(): it writes the buffer while an earlier asynchronous write may still be
      // under way, so lines came out of order, and it retries an EPIPE without end.
      const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      destination.once("close", done);
      destination.once("error", done);
      destination.end();
    });
  return { logger, close };
}
