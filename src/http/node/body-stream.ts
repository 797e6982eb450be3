/**
 * A request body too large to buffer, streamed to the handler while it is hashed: the Node
 * adapters' answer to `maxRequestBodyBytes` (Express, Koa, NestJS on Express, `node:http`).
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { IdempotencyEngine } from "../../core/engine.js";
import { ClientAbortedError } from "../../core/errors.js";
import type { BodyFingerprintHasher } from "../../core/hashing.js";
import type { ProblemResponse } from "../../core/problems.js";
import { announcesTooMuch, UploadFingerprint, uploadTooLarge } from "../upload-fingerprint.js";
import { alreadyParsedBody } from "./body.js";
import type { BodyStreamer } from "./guard.js";

type Push = IncomingMessage["push"];

/** How the Node adapters stream a body over `maxRequestBodyBytes` to the handler. */
export type UploadStreamer = BodyStreamer<UploadFingerprint>;

/**
 * The streamer the Node adapters hand to `guardRequest`: a body that announces more than
 * `maxUploadBytes` is refused with 413 before its key is claimed; any other is tapped (see
 * {@link tapRequestBody}).
 */
export function handlerStreamer(engine: IdempotencyEngine): UploadStreamer {
  return function streamToHandler(
    req: IncomingMessage,
    hasher: BodyFingerprintHasher,
    res: ServerResponse,
  ): UploadFingerprint | ProblemResponse {
    const { options } = engine;
    if (announcesTooMuch(req.headers["content-length"], options.maxUploadBytes))
      return uploadTooLarge(options);
    return tapRequestBody(
      req,
      res,
      new UploadFingerprint(hasher, options.maxUploadBytes, () => req.resume()),
    );
  };
}

/**
 * Hashes a request body as Node receives it, and leaves it to be read as usual by whoever
 * reads the request (the handler, a body parser after oncely): every chunk Node's HTTP
 * parser pushes into the request passes through `upload` first, and nothing is kept. Node
 * stops reading the socket while the request's buffer is full, so memory stays bounded by
 * the reader's pace, whatever the size.
 *
 * A body that grows past the cap is cut off: the request is destroyed with the error, so
 * the handler never sees it whole, and its key is released. Once the response has ended,
 * a rest that the handler left unread is read and discarded, so the fingerprint settles
 * and the connection is freed.
 */
export function tapRequestBody(
  req: IncomingMessage,
  res: ServerResponse,
  upload: UploadFingerprint,
): UploadFingerprint {
  if (req.readableEnded) {
    // A body parser before oncely read it all: its bytes are at hand already.
    upload.take(alreadyParsedBody(req));
    upload.end();
    return upload;
  }
  // What arrived so far (the guard's look at the body left it there) is hashed first.
  const head = req.read() as Buffer | null;
  if (head !== null) {
    const error = upload.take(head);
    // Put back in the turn that read it, as `bufferRequestBody` does, so the request cannot end.
    req.unshift(head);
    if (error) {
      req.destroy(error);
      return upload;
    }
  }
  if (req.complete) {
    upload.end();
    return upload;
  }
  const push: Push = req.push;
  const restore = () => {
    if (req.push !== push) Reflect.deleteProperty(req, "push");
  };
  req.push = function pushHashed(chunk, encoding) {
    if (chunk === null) {
      upload.end();
      restore();
    } else {
      const error = upload.take(chunk as Uint8Array);
      if (error) {
        restore();
        // Not from inside Node's parser callback.
        process.nextTick(() => req.destroy(error));
        return false;
      }
    }
    return push.call(this, chunk, encoding);
  };
  req.once("close", () => {
    restore();
    upload.fail(new ClientAbortedError());
  });
  res.once("finish", () => {
    if (!upload.done) req.resume();
  });
  return upload;
}
