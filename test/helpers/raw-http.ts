import { once } from "node:events";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** What came back on one raw connection. */
export interface RawExchange {
  /** Every byte the server sent. */
  readonly received: Buffer;
  /** The status of each response in `received`, in order. */
  readonly statuses: number[];
  /** Whether the server closed the connection before the client gave up waiting. */
  readonly closed: boolean;
}

/**
 * Sends `pieces` over one loopback connection, waiting `gapMs` between pieces, then waits at
 * most `waitMs` for the server to close the connection (send `Connection: close` to have it
 * close after its answer), and then leaves: closes the connection itself.
 *
 * The client never half-closes while it waits: Node's HTTP server takes a client that shuts
 * down its sending side for one that left, and drops the answer.
 */
export async function rawExchange(
  port: number,
  pieces: readonly Buffer[],
  gapMs = 0,
  waitMs = 5_000,
): Promise<RawExchange> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  // The server may refuse the request and close while pieces are still being written.
  socket.on("error", () => {});
  const closed = new Promise<boolean>((resolve) => socket.once("close", () => resolve(true)));
  for (const [index, piece] of pieces.entries()) {
    if (socket.destroyed) break;
    if (index > 0 && gapMs > 0) await sleep(gapMs);
    socket.write(piece);
  }
  const wasClosed = await Promise.race([closed, sleep(waitMs, false)]);
  socket.destroy();
  const received = Buffer.concat(chunks);
  const statuses = [...received.toString("latin1").matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map(
    (match) => Number(match[1]),
  );
  return { received, statuses, closed: wasClosed };
}
