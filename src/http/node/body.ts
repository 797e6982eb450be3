/**
 * Reading a Node request's body for the fingerprint, and putting it back for whoever reads it next.
 * @module
 */
import type { IncomingMessage } from "node:http";

/** The body could not be buffered because it is larger than the limit. */
export const TOO_LARGE = Symbol("too-large");

const EMPTY = Buffer.alloc(0);

/**
 * Reads the whole request body (up to `limit` bytes) so the engine can fingerprint it, and
 * puts it back with `unshift`, so that body parsers after oncely read it as if from the
 * socket. Public stream APIs only: the body is read in paused mode, and the request is
 * never let end. Node emits `end` a tick after its buffer ran dry once the message is
 * complete; the bytes go back in the very turn that emptied it, so the buffer is full again
 * when Node looks.
 *
 * When a body parser already ran before oncely the stream has ended: the exact bytes are
 * taken from `req.rawBody` when a parser kept them, else from the parsed `req.body`
 * serialised as JSON (documented: mount oncely before body parsers for exact bytes).
 */
export async function bufferRequestBody(
  req: IncomingMessage,
  limit: number,
): Promise<Buffer | typeof TOO_LARGE> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) return TOO_LARGE;
  // Node parses a body that came in the same packets as the headers right after emitting
  // the request, before the next microtask: awaited, the body then usually sits whole in
  // the request's buffer, and is read without waiting for an event.
  await undefined;
  if (req.readableEnded) return alreadyParsedBody(req);
  const length = req.readableLength;
  // Node pushes the body before it marks the message complete, and microtasks run in
  // between, so a body that came with its headers is seldom `complete` yet. Every byte its
  // Content-Length declares being buffered makes it whole all the same (the parser takes
  // no body byte past that length), and spares waiting for events.
  if (!req.complete && !(length === declared && req.headers["transfer-encoding"] === undefined))
    return readAsItArrives(req, limit);
  // An empty body is left alone: reading it would let the request end.
  if (length === 0) return EMPTY;
  if (length > limit) return TOO_LARGE;
  return putBack(req, [req.read() as Buffer], length);
}

/** Reads the rest of the body as it arrives, then puts all of it back. */
function readAsItArrives(req: IncomingMessage, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off("readable", onReadable);
      req.off("error", onError);
      req.off("close", onClose);
    };
    function onReadable() {
      for (let chunk: Buffer | null = req.read(); chunk !== null; chunk = req.read()) {
        size += chunk.length;
        chunks.push(chunk);
        if (size > limit) {
          stop();
          // Put back too: the gateway streams a body this large on from its first byte.
          putBack(req, chunks, size);
          return resolve(TOO_LARGE);
        }
      }
      if (!req.complete) return;
      stop();
      resolve(putBack(req, chunks, size));
    }
    function onError(error: Error) {
      stop();
      reject(error);
    }
    const onClose = () =>
      onError(new Error("the client closed the connection before the request body was complete"));
    req.on("readable", onReadable);
    req.once("error", onError);
    req.once("close", onClose);
  });
}

/** Puts the bytes read back at the front of the request's buffer; called in the turn that read them. */
function putBack(req: IncomingMessage, chunks: readonly Buffer[], size: number): Buffer {
  const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
  if (body.length > 0) req.unshift(body);
  return body;
}

/** The body a parser that ran before oncely read: its exact bytes when it kept them, else the parsed value as JSON. */
export function alreadyParsedBody(req: IncomingMessage): Buffer {
  const { rawBody, body } = req as { rawBody?: unknown; body?: unknown };
  if (rawBody instanceof Uint8Array) return Buffer.from(rawBody);
  if (body === undefined) return EMPTY;
  if (body instanceof Uint8Array) return Buffer.from(body);
  return Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
}
