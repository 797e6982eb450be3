/**
 * `oncely/openapi`: an OpenAPI 3.1 fragment that tells API consumers how the idempotency
 * layer behaves: the `Idempotency-Key` parameter, the replay headers and every problem response.
 * @module
 */
export {
  COMPONENT_NAMES,
  idempotencyOpenApi,
  idempotencyOperation,
  type OpenApiObject,
} from "./document.js";
export type { OpenApiOptions } from "./settings.js";
