// A TCP proxy on loopback that holds every byte for a while before passing it on, in both
// directions: in front of a store server it makes a store whose claims answer late.
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";

/** A running delay proxy. */
export interface DelayProxy {
  readonly port: number;
  /** Milliseconds each chunk waits; change it at any time (0 passes bytes straight on). */
  delayMs: number;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 in front of `target` (`host:port`). */
export async function startDelayProxy(
  target: { host: string; port: number },
  delayMs: number,
): Promise<DelayProxy> {
  const sockets = new Set<net.Socket>();
  const proxy: DelayProxy = { port: 0, delayMs, close };
  const relay = (from: net.Socket, to: net.Socket) => {
    from.on("data", (chunk: Buffer) => {
      if (proxy.delayMs === 0) to.write(chunk);
      else setTimeout(() => to.write(chunk), proxy.delayMs);
    });
    from.on("close", () => setTimeout(() => to.destroy(), proxy.delayMs));
    from.on("error", () => to.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  (proxy as { port: number }).port = (server.address() as AddressInfo).port;

  async function close(): Promise<void> {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  return proxy;
}
