/**
 * Parsing of the `Idempotency-Key` field value.
 *
 * The IETF draft defines the field as an RFC 8941 sf-string (`"abc"`); many clients send
 * the bare value (`abc`). Both are accepted and name the same key.
 * @module
 */

/** A parsed key, or the reason the field is invalid (shown to the client in the 400 body). */
export type KeyParseResult =
  | { readonly ok: true; readonly key: string }
  | { readonly ok: false; readonly reason: string };

const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * Validates the field lines of the key header.
 * @param lines every field line of the header, unjoined (more than one is invalid)
 * @param maxLength the longest accepted key in characters
 * @returns the key, `undefined` when there is no key header, or the reason it is invalid
 */
export function parseKeyHeader(lines: readonly string[], maxLength: number): KeyParseResult | undefined {
  if (lines.length === 0) return undefined;
  if (lines.length > 1) return { ok: false, reason: "the key header appears more than once" };
  const raw = trimOws(lines[0] ?? "");
  const value = raw.startsWith('"') ? parseSfString(raw) : parseBare(raw);
  if (!value.ok) return value;
  return validateKey(value.key, maxLength);
}

/** Checks a key from any source (header or custom extractor) against the length and character rules. */
export function validateKey(key: string, maxLength: number): KeyParseResult {
  if (key.length === 0) return { ok: false, reason: "the key is empty" };
  if (key.length > maxLength) return { ok: false, reason: `the key is longer than ${maxLength} characters` };
  if (!PRINTABLE.test(key)) return { ok: false, reason: "the key must be printable ASCII" };
  return { ok: true, key };
}

/**
 * Strips a field value's optional whitespace: spaces and tabs (RFC 9110 §5.6.3). Not
 * `trim()`, which also strips line breaks and non-ASCII spaces such as U+00A0, and so
 * turned ` abc` with a no-break space into the valid key `abc`.
 */
function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function parseBare(raw: string): KeyParseResult {
  if (raw.includes(",")) return { ok: false, reason: "the key header holds a list; send exactly one key" };
  if (raw.includes('"')) return { ok: false, reason: "the key has an unbalanced quote" };
  return { ok: true, key: raw };
}

/** RFC 8941 §4.2.5: a quoted string where only `\"` and `\\` are escapes. */
function parseSfString(raw: string): KeyParseResult {
  let key = "";
  for (let i = 1; i < raw.length; i++) {
    const char = raw[i];
    if (char === "\\") {
      const next = raw[i + 1];
      if (next !== '"' && next !== "\\") return { ok: false, reason: "the quoted key has an invalid escape" };
      key += next;
      i++;
    } else if (char === '"') {
      const rest = trimOws(raw.slice(i + 1));
      if (rest === "") return { ok: true, key };
      if (rest.startsWith(","))
        return { ok: false, reason: "the key header holds a list; send exactly one key" };
      return { ok: false, reason: "the key header has text after the quoted key" };
    } else {
      key += char;
    }
  }
  return { ok: false, reason: "the quoted key is not terminated" };
}
