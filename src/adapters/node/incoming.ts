import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import type { IncomingRequest } from "../../core/request.js";

/** Lines of one header already read from a request, so that they are not read twice. */
export interface KnownHeader {
  /** Lower case. */
  readonly name: string;
  readonly lines: readonly string[];
}

/**
 * A Node request as the engine sees it. Header lookups read `rawHeaders`, so repeated
 * lines stay apart; the lines of `known` come as given.
 */
export function toIncomingRequest(
  req: IncomingMessage,
  body: Uint8Array | undefined,
  known?: KnownHeader,
): IncomingRequest {
  const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  const header = (name: string) => (name === known?.name ? known.lines : headerLines(req, name));
  const method = (req.method ?? "GET").toUpperCase();
  return body === undefined ? { method, path, header } : { method, path, header, body };
}

/** Every line of the header `name` (lower case), in order, read from `rawHeaders` so that repeated lines stay apart. */
export function headerLines(req: IncomingMessage, name: string): string[] {
  const raw = req.rawHeaders;
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i] as string;
    // Lower-cased only when the length matches: most lines are other headers.
    if (field.length === name.length && (field === name || field.toLowerCase() === name))
      values.push(raw[i + 1] as string);
  }
  return values;
}

/** The body could not be buffered because it is larger than the limit. */
export const TOO_LARGE = Symbol("too-large");

/**
 * Reads the whole request body (up to `limit` bytes) so the engine can fingerprint it,
 * leaving it (or putting it back) for body parsers after oncely to read as if from the
 * socket.
 *
 * When a body parser already ran before oncely, the stream is spent: the exact bytes
 * are taken from `req.rawBody` when a parser kept them, else from the parsed `req.body`
 * serialised as JSON (documented: mount oncely before body parsers for exact bytes).
 */
export async function bufferRequestBody(
  req: IncomingMessage,
  limit: number,
): Promise<Buffer | typeof TOO_LARGE> {
  await untilBodyParsed();
  return requestBody(req, limit);
}

/**
 * Node parses a body that came in the same packets as the headers right after emitting
 * the request, before the next microtask: awaited, this lets the body arrive, and it
 * then usually sits whole in the request's buffer.
 */
export function untilBodyParsed(): Promise<void> {
  return Promise.resolve();
}

/**
 * {@link bufferRequestBody} without the wait: the body itself when it is buffered whole
 * (or was parsed already), else a promise of it. Call it after {@link untilBodyParsed}.
 */
export function requestBody(
  req: IncomingMessage,
  limit: number,
): Buffer | typeof TOO_LARGE | Promise<Buffer | typeof TOO_LARGE> {
  if (req.readableEnded || (req as { _body?: boolean })._body === true) return alreadyParsedBody(req);
  return takeBufferedBody(req, limit) ?? readBody(req, limit);
}

/**
 * The body when all of it (as many bytes as Content-Length says) is buffered and unread,
 * left where it is: the stream never ends, never closes and needs no new state.
 * Undefined when the fast path does not apply.
 */
function takeBufferedBody(req: IncomingMessage, limit: number): Buffer | typeof TOO_LARGE | undefined {
  const declared = req.headers["content-length"];
  if (declared === undefined || req.readableFlowing !== null || req.readableLength !== Number(declared)) {
    return undefined;
  }
  if (req.readableLength > limit) return TOO_LARGE;
  if (req.readableLength === 0) return Buffer.alloc(0);
  return peekBuffered(req);
}

/**
 * The request's buffered body when it sits in one chunk, read without consuming it. Node
 * keeps buffered chunks in an array from `bufferIndex` on (since nodejs/node#50341);
 * looking there spares a `read()` and `unshift()`, which resume the socket and schedule
 * two ticks on every guarded request. Undefined for any other shape: the body is then
 * read as it arrives, like one that comes in pieces.
 */
function peekBuffered(req: IncomingMessage): Buffer | undefined {
  const { buffer, bufferIndex } = (
    req as unknown as { _readableState: { buffer?: unknown; bufferIndex?: unknown } }
  )._readableState;
  if (!Array.isArray(buffer) || typeof bufferIndex !== "number" || buffer.length - bufferIndex !== 1)
    return undefined;
  const chunk: unknown = buffer[bufferIndex];
  return Buffer.isBuffer(chunk) ? chunk : undefined;
}

/** Reads the body as it arrives, then gives the ended request a fresh state holding it. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  // Plain listeners rather than an async iterator: this runs on every guarded request.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      settle();
      req.pause();
      resolve(TOO_LARGE);
    };
    const onEnd = () => {
      settle();
      const body = Buffer.concat(chunks, size);
      const restore = () => {
        putBack(req, body);
        resolve(body);
      };
      // With autoDestroy the request is destroyed right after 'end' and emits 'close' later;
      // putting the body back before that would let the destroy hit the fresh state.
      if ((req as unknown as { _readableState: { autoDestroy: boolean } })._readableState.autoDestroy) {
        req.once("close", restore);
      } else {
        restore();
      }
    };
    const onError = (error: Error) => {
      settle();
      reject(error);
    };
    const onClose = () =>
      onError(new Error("the client closed the connection before the request body was complete"));
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    req.once("close", onClose);
  });
}

function alreadyParsedBody(req: IncomingMessage): Buffer {
  const { rawBody, body } = req as { rawBody?: unknown; body?: unknown };
  if (rawBody instanceof Uint8Array) return Buffer.from(rawBody);
  if (body === undefined) return Buffer.alloc(0);
  if (body instanceof Uint8Array) return Buffer.from(body);
  return Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
}

/**
 * Gives an ended request a fresh readable state that holds exactly `body`, so the
 * request object itself (which frameworks pass along by identity) can be read again.
 */
function putBack(req: IncomingMessage, body: Buffer): void {
  const fresh = new Readable({ read() {} }) as unknown as { _readableState: unknown };
  const target = req as unknown as { _readableState: unknown; _read: () => void };
  target._readableState = fresh._readableState;
  // The socket has nothing more for this request; reading must not resume it.
  target._read = () => {};
  if (body.length > 0) req.push(body);
  req.push(null);
}
