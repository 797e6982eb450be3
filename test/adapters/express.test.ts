import express from "express";
import { idempotency } from "../../src/adapters/express/index.js";
import { describeAdapter } from "../conformance/adapter-behaviour.js";
import { writeAnswer } from "../conformance/translate.js";
import { listen } from "../helpers/http.js";

describeAdapter("Express", (options, app) => {
  const server = express();
  server.use(idempotency(options));
  server.use(express.raw({ type: () => true, limit: "1mb" }));
  server.all("/{*path}", async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    await writeAnswer(res, await app.handle({ method: req.method, path: req.originalUrl, body }));
  });
  return listen(server);
});
