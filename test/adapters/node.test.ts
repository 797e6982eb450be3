import { withIdempotency } from "../../src/adapters/node/index.js";
import { describeAdapter } from "../conformance/adapter-behaviour.js";
import { handleNode } from "../conformance/translate.js";
import { listen } from "../helpers/http.js";

describeAdapter("node:http", (options, app) =>
  listen(withIdempotency((req, res) => handleNode(app, req, res), options)),
);
