// The side effect of the chaos runs: an HTTP server in the test process, never killed, that
// counts every execution per key. Apps call it from their handler; gateways forward to it.
// Each owner (an app or gateway process) reaches it on a port of its own, so that every
// execution is known to have come from that owner, and the witness can kill the owner at the
// worst moments: right after the side effect, or right after answering it.
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { readBody } from "../helpers/http.js";

/** One execution of a key's side effect. */
export interface Execution {
  /** Unique over the run: `<owner>#<n>`; the answer's body carries it, and so do its replays. */
  readonly id: string;
  readonly key: string;
  readonly owner: string;
  /** Date.now() when the witness received it. */
  readonly at: number;
}

/** What the witness does to an execution's owner: nothing, or SIGKILL it at one of two points. */
export type KillPoint = "none" | "before-answer" | "after-answer";

/** A running witness. */
export interface Witness {
  readonly executions: readonly Execution[];
  /** Opens a port for `owner` and returns its URL (the upstream of a gateway, the side effect of an app). */
  listenFor(owner: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a witness. Every request is one execution: it waits `x-work` ms, then answers 201
 * with `{ id, key }` (Content-Length known, so the owner stores it before sending it on).
 * `decide` picks, per execution, whether `kill(owner)` runs before or after the answer.
 */
export function startWitness(
  decide: (execution: Execution) => KillPoint,
  kill: (owner: string, point: Exclude<KillPoint, "none">) => void,
): Witness {
  const executions: Execution[] = [];
  const servers: http.Server[] = [];
  let count = 0;
  const handlerFor =
    (owner: string): http.RequestListener =>
    async (req, res) => {
      await readBody(req).catch(() => undefined);
      const key = String(req.headers["idempotency-key"] ?? req.headers["x-key"] ?? "");
      const execution = { id: `${owner}#${++count}`, key, owner, at: Date.now() };
      executions.push(execution);
      const point = decide(execution);
      await sleep(Number(req.headers["x-work"] ?? 0));
      if (point === "before-answer") {
        kill(owner, point);
        res.destroy();
        return;
      }
      const body = JSON.stringify({ id: execution.id, key });
      res.writeHead(201, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      if (point !== "after-answer") {
        res.end(body);
        return;
      }
      // Once the last byte is out, the owner holds the answer and has not stored it yet. An
      // owner that died meanwhile only closes the connection: `kill` is told all the same.
      let told = false;
      const tell = () => {
        if (!told) kill(owner, point);
        told = true;
      };
      res.end(body, tell);
      res.once("close", tell);
    };
  return {
    executions,
    listenFor: async (owner) => {
      const server = http.createServer(handlerFor(owner));
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      servers.push(server);
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: async () => {
      await Promise.all(
        servers.map((server) => {
          server.closeAllConnections();
          return new Promise((resolve) => server.close(resolve));
        }),
      );
    },
  };
}
