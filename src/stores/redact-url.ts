/**
 * The one way a store URL is shown in a log line or an error message.
 * @module
 */

/**
 * Query parameters whose values are shown. Every other value is hidden: pg reads
 * `password` and `sslpassword` from the query, and a parameter this list does not know
 * may hold a secret just as well.
 */
const SHOWN_PARAMETERS = new Set([
  "prefix",
  "table",
  "schema",
  "sslmode",
  "application_name",
  "connect_timeout",
  "target_session_attrs",
]);

const HIDDEN = "***";

/**
 * A store URL with its secrets hidden: the password of the user information
 * (`postgres://app:***@db/prod`; a URL without a password keeps `app@`), and the value of
 * every query parameter but the few known to be harmless (`?password=***&sslmode=require`).
 * Works on malformed URLs too: a password holding an unescaped `@`, `/`, `?` or `#` never
 * shows, at worst more than the secret is hidden.
 *
 * @example
 * redactUrl("postgres://app:s3cret@db/prod?password=s3cret"); // "postgres://app:***@db/prod?password=***"
 */
export function redactUrl(url: string): string {
  const start = url.indexOf("//");
  if (start < 0) return url;
  const head = url.slice(0, start + 2);
  let rest = url.slice(start + 2);
  // Everything up to the last "@" may be credentials, whatever characters a password holds.
  const at = rest.lastIndexOf("@");
  let userinfo = "";
  if (at >= 0) {
    userinfo = redactUserinfo(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  return `${head}${userinfo}${redactQuery(rest)}`;
}

function redactUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(":");
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  // A user name never holds these; the "@" was then inside a password, a path or a query.
  if (/[/?#]/.test(user)) return `${HIDDEN}@`;
  return colon < 0 ? `${user}@` : `${user}:${HIDDEN}@`;
}

function redactQuery(rest: string): string {
  // A fragment has no business in a store URL and might hold anything.
  const hash = rest.indexOf("#");
  const fragment = hash < 0 ? "" : `#${HIDDEN}`;
  const beforeFragment = hash < 0 ? rest : rest.slice(0, hash);
  const question = beforeFragment.indexOf("?");
  if (question < 0) return `${beforeFragment}${fragment}`;
  const shown = beforeFragment
    .slice(question + 1)
    .split("&")
    .map((pair) => {
      const equals = pair.indexOf("=");
      const name = equals < 0 ? pair : pair.slice(0, equals);
      if (SHOWN_PARAMETERS.has(safeDecode(name).toLowerCase())) return pair;
      return equals < 0 ? HIDDEN : `${name}=${HIDDEN}`;
    })
    .join("&");
  return `${beforeFragment.slice(0, question)}?${shown}${fragment}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
