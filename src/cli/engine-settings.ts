/**
 * Every engine option that can be written on a command line, as a setting (flag,
 * `ONCELY_*` variable, config-file field). The defaults shown come from the engine's own
 * `DEFAULTS`; unset settings are left out so that the engine applies them.
 *
 * Not settings, because they are functions: `key`, `scope`, `shouldStore`, `hooks`
 * (use the library for those). `store` is the `--store` URL of each command.
 * @module
 */
import { DEFAULTS, type FingerprintParts, type IdempotencyOptions } from "../core/options.js";
import { type SettingValues, setting } from "./settings.js";
import {
  formatDuration,
  formatSize,
  parseBoolean,
  parseChoice,
  parseCookieName,
  parseDuration,
  parseHeaderList,
  parseHeaderName,
  parseInteger,
  parseList,
  parseSize,
  ValueError,
} from "./values.js";

const FINGERPRINT_PARTS = ["method", "path", "body"] as const;

/** The engine's settings by name. */
export const ENGINE_SETTINGS = {
  methods: setting({
    placeholder: "<list>",
    description: "methods that go through the engine; every other method is proxied untouched",
    defaultText: DEFAULTS.methods.join(","),
    parse: (text) => parseList(text).map((method) => method.toUpperCase()),
  }),
  header: setting({
    renamedFrom: "keyHeader",
    placeholder: "<name>",
    description: "request header that carries the idempotency key",
    defaultText: DEFAULTS.header,
    parse: parseHeaderName,
  }),
  keyJson: setting({
    placeholder: "<field>",
    description:
      "take the key from this field of a JSON body (a name, or a JSON pointer such as /meta/idempotency_key) instead of the header",
    parse: (text) => text,
  }),
  maxKeyLength: setting({
    placeholder: "<n>",
    description: "longest accepted key, in characters",
    defaultText: String(DEFAULTS.maxKeyLength),
    parse: (text) => parseInteger(text, 1),
  }),
  required: setting({
    description: "answer 400 to a guarded request without a key instead of proxying it",
    defaultText: String(DEFAULTS.required),
    parse: parseBoolean,
  }),
  scopeHeader: setting({
    placeholder: "<name>",
    description:
      "header whose SHA-256 partitions the records (requests without it share one anonymous scope)",
    defaultText: DEFAULTS.scopeHeader,
    parse: parseHeaderName,
  }),
  scopeCookie: setting({
    placeholder: "<name>",
    description:
      "session cookie whose SHA-256 partitions the records of the requests that carry it (for cookie-authenticated sites)",
    parse: parseCookieName,
  }),
  fingerprint: setting({
    placeholder: "<parts>",
    description: "what identifies a request besides its key: any of method,path,body",
    defaultText: FINGERPRINT_PARTS.join(","),
    parse: (text) => {
      const parts = parseList(text).map((part) => parseChoice(part, FINGERPRINT_PARTS));
      return Object.fromEntries(
        FINGERPRINT_PARTS.map((part) => [part, parts.includes(part)]),
      ) as Required<FingerprintParts>;
    },
  }),
  mismatch: setting({
    placeholder: "<reject|ignore>",
    description:
      "same key with another method, path or body: reject answers 422, ignore replays the original",
    defaultText: DEFAULTS.mismatch,
    parse: (text) => parseChoice(text, ["reject", "ignore"] as const),
  }),
  wait: setting({
    placeholder: "<duration>",
    description: "how long a duplicate waits for the in-flight original before it gets 409",
    defaultText: formatDuration(DEFAULTS.wait),
    parse: parseDuration,
  }),
  ttl: setting({
    placeholder: "<duration>",
    description: "how long a completed response is replayed",
    defaultText: formatDuration(DEFAULTS.ttl),
    parse: positive(parseDuration),
  }),
  lease: setting({
    placeholder: "<duration>",
    description:
      "in-flight lease, renewed while the upstream works; a crashed gateway's key frees up after it",
    defaultText: formatDuration(DEFAULTS.lease),
    parse: positive(parseDuration),
  }),
  replayHeader: setting({
    placeholder: "<name>",
    description: "header (value true) added to every replayed response",
    defaultText: DEFAULTS.replayHeader,
    parse: parseHeaderName,
  }),
  storeHeader: setting({
    placeholder: "<name>",
    description:
      "response header by which the upstream says not to store an answer (value no); never passed to the client",
    defaultText: DEFAULTS.storeHeader,
    parse: parseHeaderName,
  }),
  denyHeaders: setting({
    placeholder: "<list>",
    description: "response headers never stored nor replayed",
    defaultText: DEFAULTS.deniedHeaders.join(","),
    parse: parseHeaderList,
  }),
  allowHeaders: setting({
    placeholder: "<list>",
    description: "when set, only these response headers are stored",
    parse: parseHeaderList,
  }),
  storeBeforeSendBytes: setting({
    renamedFrom: "storeBeforeSend",
    placeholder: "<size>",
    description: "a response of known length up to this size is stored before it is sent",
    defaultText: formatSize(DEFAULTS.storeBeforeSendBytes),
    parse: parseSize,
  }),
  maxBodyBytes: setting({
    renamedFrom: "maxBody",
    placeholder: "<size>",
    description: "larger responses are delivered but their body is not stored",
    defaultText: formatSize(DEFAULTS.maxBodyBytes),
    parse: parseSize,
  }),
  maxRequestBodyBytes: setting({
    renamedFrom: "maxRequestBody",
    placeholder: "<size>",
    description:
      "largest request body read whole before its key is claimed; a larger one with a key streams on, hashed on the way",
    defaultText: formatSize(DEFAULTS.maxRequestBodyBytes),
    parse: parseSize,
  }),
  maxUploadBytes: setting({
    placeholder: "<size>",
    description:
      "largest body with a key streamed on (bodies over --max-request-body-bytes are streamed, not held); more gets 413",
    defaultText: "none",
    parse: parseSize,
  }),
  onStoreError: setting({
    placeholder: "<closed|open>",
    description: "store down: closed answers 503, open proxies without deduplication",
    defaultText: DEFAULTS.onStoreError,
    parse: (text) => parseChoice(text, ["closed", "open"] as const),
  }),
  errorFormat: setting({
    placeholder: "<problem|stripe>",
    description:
      "shape of oncely's own error answers: problem+json, or Stripe's {\"error\": {type, code, message}}",
    defaultText: DEFAULTS.errorFormat,
    parse: (text) => parseChoice(text, ["problem", "stripe"] as const),
  }),
  retryAfter: setting({
    placeholder: "<seconds>",
    description: "Retry-After on 409, 502, 503 and 504 answers",
    defaultText: String(DEFAULTS.retryAfter),
    parse: (text) => parseInteger(text, 1),
  }),
};

/** The engine options the settings give; unset ones are absent. */
export function engineOptions(
  values: SettingValues<typeof ENGINE_SETTINGS>,
): Omit<IdempotencyOptions, "store"> {
  // The settings carry the options' own names, except the two halves of `responseHeaders`.
  const { denyHeaders, allowHeaders, ...same } = values;
  const responseHeaders = {
    ...(denyHeaders === undefined ? {} : { deny: denyHeaders }),
    ...(allowHeaders === undefined ? {} : { allow: allowHeaders }),
  };
  return { ...same, ...(Object.keys(responseHeaders).length === 0 ? {} : { responseHeaders }) };
}

function positive(parse: (text: string) => number): (text: string) => number {
  return (text) => {
    const value = parse(text);
    if (value <= 0) throw new ValueError(`expected more than zero, got ${JSON.stringify(text)}`);
    return value;
  };
}
