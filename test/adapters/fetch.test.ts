import { withIdempotency } from "../../src/adapters/fetch/index.js";
import { describeAdapter } from "../conformance/adapter-behaviour.js";
import { appRequest, serveFetch, toResponse } from "../conformance/translate.js";

describeAdapter("fetch", (options, app) =>
  serveFetch(
    withIdempotency(async (request) => toResponse(await app.handle(await appRequest(request))), options),
  ),
);
