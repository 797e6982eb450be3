import { once } from "node:events";
import { type AddressInfo, createConnection, createServer, type Socket } from "node:net";

/** A TCP proxy on loopback between a client and a server, whose replies can be held back. */
export interface TcpProxy {
  /** The loopback port clients connect to instead of the server's. */
  readonly port: number;
  /**
   * From now on every byte the server sends reaches the client `ms` later, in order; 0 turns
   * the delay off. The server itself sees every request at once: a store that did the work and
   * answers late, as a congested link or a paused client process makes it.
   */
  delayReplies(ms: number): void;
  /**
   * Runs `action` once: after the client sent a request containing `text`, when the server's
   * next reply on that connection arrives, before the client gets it. To freeze the client
   * process (SIGSTOP) just as the server answered a request about `text`.
   */
  onReplyTo(text: string, action: () => void): void;
  /** Closes the listener and every connection through it. */
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 that forwards every connection to `127.0.0.1:targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let delayMs = 0;
  let trigger: { readonly text: Buffer; readonly action: () => void; armed?: Socket } | undefined;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Either side may be cut while the other still writes: the proxy just lets go.
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    track(client);
    track(upstream);
    client.on("data", (chunk: Buffer) => {
      if (trigger && !trigger.armed && chunk.includes(trigger.text)) trigger.armed = upstream;
    });
    client.pipe(upstream);
    // A chunk never overtakes one held back before it, even once the delay is turned off.
    let heldUntil = 0;
    upstream.on("data", (chunk: Buffer) => {
      if (trigger?.armed === upstream) {
        const { action } = trigger;
        trigger = undefined;
        action();
      }
      const now = Date.now();
      heldUntil = Math.max(heldUntil, now + delayMs);
      if (heldUntil <= now) client.write(chunk);
      else setTimeout(() => client.writable && client.write(chunk), heldUntil - now);
    });
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    delayReplies: (ms) => {
      delayMs = ms;
    },
    onReplyTo: (text, action) => {
      trigger = { text: Buffer.from(text), action };
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
