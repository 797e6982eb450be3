/**
 * `oncely/testing`: helpers for testing code built on oncely, starting with the
 * conformance suite every store implementation should pass.
 *
 * @module
 */
export { type StoreConformanceOptions, storeConformanceSuite } from "./store-conformance.js";
