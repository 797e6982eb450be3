// One subject of the comparison in its own process. argv: subject name, store URL, handler
// delay in ms. Serves POST /orders (guarded by the subject) and GET /executions (how often the
// handler ran here). Prints "listening <port>".
import type { AddressInfo } from "node:net";
import express from "express";
import { executed } from "./handler.js";
import { SUBJECTS } from "./subjects.js";

const [name, url = "", delay = "0"] = process.argv.slice(2);
const subject = SUBJECTS.find((candidate) => candidate.name === name);
if (!subject) throw new Error(`unknown subject ${name}`);
const app = express();
app.disable("x-powered-by");
app.post("/orders", ...(await subject.install(url, Number(delay))));
app.get("/executions", (_req, res) => {
  res.json({ executions: executed() });
});
const server = app.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
