import { once } from "node:events";
import { type AddressInfo, createConnection, createServer, type Socket } from "node:net";

/** A TCP proxy on loopback between a client and a server, whose traffic can be held back or cut. */
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
   * Holds every byte, both ways, on every connection, for `ms` from now, then passes it on in
   * order: a link that drops every packet for a while (TCP retransmits them once it is back).
   */
  stall(ms: number): void;
  /** Cuts every connection open now (both ends see it close); new ones are served as before. */
  cut(): void;
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
  let stalledUntil = 0;
  let trigger: { readonly text: Buffer; readonly action: () => void; armed?: Socket } | undefined;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Either side may be cut while the other still writes: the proxy just lets go.
    socket.on("error", () => socket.destroy());
  };
  /**
   * Passes `from`'s bytes to `to`, each held until `holdFor()` ms after its arrival. One queue
   * and one timer per direction: timers due at the same moment may fire in any order, and a
   * chunk that overtook another would scramble the protocol (replies matched to the wrong command).
   */
  const relay = (from: Socket, to: Socket, holdFor: () => number) => {
    const queue: Array<{ readonly chunk: Buffer; readonly due: number }> = [];
    let lastDue = 0;
    let timer: NodeJS.Timeout | undefined;
    const drain = () => {
      timer = undefined;
      const now = Date.now();
      for (let next = queue[0]; next !== undefined && next.due <= now; next = queue[0]) {
        queue.shift();
        if (to.writable) to.write(next.chunk);
      }
      if (queue[0] !== undefined) timer = setTimeout(drain, queue[0].due - now);
    };
    from.on("data", (chunk: Buffer) => {
      const now = Date.now();
      // A chunk never overtakes one held back before it, even once the hold is over.
      lastDue = Math.max(lastDue, now + holdFor(), stalledUntil);
      if (queue.length === 0 && lastDue <= now) {
        to.write(chunk);
        return;
      }
      queue.push({ chunk, due: lastDue });
      timer ??= setTimeout(drain, lastDue - now);
    });
    from.once("close", () => {
      clearTimeout(timer);
      to.destroy();
    });
  };
  const server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    track(client);
    track(upstream);
    client.on("data", (chunk: Buffer) => {
      if (trigger && !trigger.armed && chunk.includes(trigger.text)) trigger.armed = upstream;
    });
    upstream.on("data", () => {
      if (trigger?.armed === upstream) {
        const { action } = trigger;
        trigger = undefined;
        action();
      }
    });
    relay(client, upstream, () => 0);
    relay(upstream, client, () => delayMs);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    delayReplies: (ms) => {
      delayMs = ms;
    },
    stall: (ms) => {
      stalledUntil = Date.now() + ms;
    },
    cut: () => {
      for (const socket of sockets) socket.destroy();
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
