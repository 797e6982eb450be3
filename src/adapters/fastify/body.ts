/**
 * Request and response bodies as Fastify hands them to hooks: the raw request payload to
 * buffer for the fingerprint, and the payload `onSend` sees, to capture for the store.
 * @module
 */
import { Readable, Transform } from "node:stream";
import { ClientAbortedError } from "../../core/errors.js";
import type { Execution } from "../../core/execution.js";
import type { BodyFingerprintHasher } from "../../core/hashing.js";
import { BodyTap } from "../../http/body-tap.js";
import { UploadFingerprint } from "../../http/upload-fingerprint.js";

/** A payload larger than the limit: the chunks read before it was found out, the rest unread. */
export interface Overflow {
  readonly head: readonly Buffer[];
}

/** Reads the request payload whole, up to `limit` bytes. */
export async function readPayload(payload: Readable, limit: number): Promise<Buffer | Overflow> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Left undestroyed when the limit is hit: destroying the request would close the
  // connection under the client before it read the 413.
  for await (const chunk of payload.iterator({ destroyOnReturn: false })) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    chunks.push(bytes);
    if (size > limit) {
      payload.pause();
      return { head: chunks };
    }
  }
  return Buffer.concat(chunks, size);
}

/**
 * A payload too large to buffer, as a fresh payload for Fastify's content-type parsers that
 * hashes the body on its way to them and never holds it: `head` (read already), then the
 * rest of `payload` at the parser's pace. Past `maxBytes` the payload fails, so the handler
 * never sees the body whole; a client that leaves fails it too. Either way the fingerprint
 * rejects, and the key is released.
 */
export function hashedPayload(
  payload: Readable,
  head: readonly Buffer[],
  hasher: BodyFingerprintHasher,
  maxBytes: number,
): { readonly stream: Readable; readonly upload: UploadFingerprint } {
  const upload = new UploadFingerprint(hasher, maxBytes, () => stream.resume());
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      callback(upload.take(chunk), chunk);
    },
    flush(callback) {
      upload.end();
      callback();
    },
  });
  stream.once("error", (error) => upload.fail(error));
  const aborted = () => {
    if (!payload.readableEnded) stream.destroy(new ClientAbortedError());
  };
  payload.once("close", aborted);
  payload.once("error", aborted);
  for (const chunk of head) stream.write(chunk);
  payload.pipe(stream);
  return { stream, upload };
}

/** The buffered body as a fresh payload for Fastify's content-type parsers. */
export function payloadOf(body: Buffer): Readable {
  const stream = Readable.from([body], { objectMode: false });
  // Fastify checks Content-Length against this when a preParsing hook replaced the stream.
  (stream as Readable & { receivedEncodedLength?: number }).receivedEncodedLength = body.length;
  return stream;
}

/** A payload `onSend` may see. */
export type SendPayload = string | Uint8Array | Readable | ReadableStream<Uint8Array> | null | undefined;

/** The payload's length when it is known before sending: the declared length, or the bytes at hand. */
export function payloadLength(payload: SendPayload, declared: unknown): number | undefined {
  if (payload === null || payload === undefined) return 0;
  if (typeof payload === "string") return Buffer.byteLength(payload);
  if (payload instanceof Uint8Array) return payload.length;
  const length = Number(declared);
  return declared !== undefined && Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/**
 * Captures the payload into the execution and returns the payload to send. A body at hand
 * is stored before it is sent; a stream is stored as it is sent, and read to its end even
 * when the client leaves, so the record is still stored.
 */
export async function capturePayload(
  execution: Execution,
  payload: SendPayload,
  clientGone: () => boolean,
): Promise<SendPayload> {
  if (payload === null || payload === undefined || typeof payload === "string" || isBytes(payload)) {
    if (payload) execution.write(typeof payload === "string" ? Buffer.from(payload) : payload);
    await execution.finish();
    return payload;
  }
  const stream = payload instanceof Readable ? payload : Readable.fromWeb(payload as never);
  const source = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array | string>;
  const tap = new BodyTap(
    {
      next: async () => {
        const result = await source.next();
        return result.done ? result : { done: false, value: toBytes(result.value) };
      },
    },
    execution,
    clientGone,
  );
  return new Readable({
    read() {
      tap.next().then(
        (chunk) => this.push(chunk ?? null),
        (error: unknown) => this.destroy(error as Error),
      );
    },
    destroy(error, callback) {
      // Fastify destroys the payload when the client leaves: keep storing what the handler sends.
      tap.abandon();
      callback(error);
    },
  });
}

function isBytes(payload: unknown): payload is Uint8Array {
  return payload instanceof Uint8Array;
}

function toBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === "string" ? Buffer.from(chunk) : chunk;
}
