/**
 * Writing an answer to its output file so that the file is always either absent, the
 * previous complete answer, or the new complete answer — never a half-written one.
 * @module
 */
import { mkdir, open, rename } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Streams the body to a temporary file beside `target`, syncs it, then renames it over
 * `target`. The sync comes first because the checkpoint records the file as done right
 * after: the output must be on disk before the journal says it is.
 * The temporary name is fixed per target, so a rerun after a crash overwrites the leftover.
 */
export async function writeAnswer(target: string, body: ReadableStream<Uint8Array> | null): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const temporary = `${target}.oncely-tmp`;
  const handle = await open(temporary, "w");
  try {
    if (body) for await (const chunk of body) await handle.write(chunk);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, target);
}
