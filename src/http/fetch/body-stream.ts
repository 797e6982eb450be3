/**
 * A request body too large to buffer, streamed to a fetch handler while it is hashed.
 * Runtime-neutral, as the rest of the fetch layer.
 * @module
 */
import { ClientAbortedError } from "../../core/errors.js";
import type { BodyFingerprintHasher } from "../../core/hashing.js";
import { UploadFingerprint } from "../upload-fingerprint.js";

/**
 * Wraps `source` in a body for the handler that passes every chunk through the hasher on
 * its way, at the handler's pace, and holds none: the handler reads the wrapped body as it
 * would have read the original. Past `maxBytes` the body fails with `UploadTooLargeError`
 * (the handler never sees it whole); a client that leaves fails it too. Either way the
 * fingerprint rejects, and the key is released.
 *
 * When the fingerprint is asked for before the end (a completed record answers the
 * request, or the handler answered without reading the body), the rest is read from the
 * source and discarded.
 */
export function hashedBody(
  source: ReadableStream<Uint8Array>,
  hasher: BodyFingerprintHasher,
  maxBytes: number,
): { readonly body: ReadableStream<Uint8Array>; readonly upload: UploadFingerprint } {
  const reader = source.getReader();
  // Reads queue up in order, so chunks are hashed in order even when the handler and the
  // drain read at once.
  const next = async (): Promise<Uint8Array | undefined> => {
    let result: Awaited<ReturnType<typeof reader.read>>;
    try {
      result = await reader.read();
    } catch (error) {
      upload.fail(new ClientAbortedError());
      throw error;
    }
    if (result.done) {
      upload.end();
      return undefined;
    }
    const tooLarge = upload.take(result.value);
    if (tooLarge) {
      reader.cancel(tooLarge).catch(() => {});
      throw tooLarge;
    }
    return result.value;
  };
  const drain = async () => {
    while (!upload.done && (await next()) !== undefined);
  };
  const upload = new UploadFingerprint(hasher, maxBytes, () => {
    drain().catch(() => {});
  });
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const chunk = await next();
          if (chunk === undefined) controller.close();
          else controller.enqueue(chunk);
        } catch (error) {
          controller.error(error);
        }
      },
    },
    // Nothing is read ahead of the handler.
    { highWaterMark: 0 },
  );
  return { body, upload };
}
