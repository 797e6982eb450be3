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

/** A JSON-lines logger on standard output, and a way to flush it before the process exits. */
export interface ProcessLogger {
  readonly logger: Logger;
  /** Writes out whatever is still buffered; call it before exiting. */
  flush(): void;
}

/**
 * Creates the pino logger of `oncely serve`: one JSON object per line on stdout. Writes
 * are asynchronous so that logging never holds a request up.
 */
export function createProcessLogger(level: LogLevel): ProcessLogger {
  const destination = pino.destination({ dest: 1, sync: false });
  const logger = pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
  return { logger, flush: () => destination.flushSync() };
}
