// The least reverse proxy Node can be: node:http in, node:http out over a keep-alive pool,
// raw headers passed as they are, bodies piped; no idempotency, logging, hop-by-hop header
// rules or error answers. `npm run bench:gateway` runs it as the yardstick of a Node proxy
// hop on this machine, next to nginx and `oncely serve`.
//   node --import tsx bench/least-proxy.ts <upstream URL>    Prints "listening <port>".
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

const upstream = new URL(process.argv[2] ?? "");
const agent = new Agent({ keepAlive: true, scheduling: "lifo" });

const server = createServer((req, res) => {
  const forwarded = request(
    {
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.rawHeaders,
      agent,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
    },
  );
  forwarded.on("error", () => res.destroy());
  req.pipe(forwarded);
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
