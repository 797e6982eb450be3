/**
 * Reading one cookie from the `Cookie` request header (RFC 6265 §5.4: `name=value` pairs
 * separated by `;`), for scoping records by a session cookie.
 * @module
 */

/**
 * Every value of the cookie `name` in the `Cookie` field lines, in order (a browser sends
 * the same name more than once when cookies of several paths or domains match). Names are
 * case-sensitive; values are returned as sent, quotes included.
 */
export function cookieValues(lines: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (const line of lines) {
    for (const pair of line.split(";")) {
      const equals = pair.indexOf("=");
      if (equals !== -1 && pair.slice(0, equals).trim() === name) values.push(pair.slice(equals + 1).trim());
    }
  }
  return values;
}
