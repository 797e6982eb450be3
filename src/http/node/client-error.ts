import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { ErrorFormat } from "../../core/error-format.js";
import { type ProblemSlug, problem } from "../../core/problems.js";

/** Node's parser errors that have their own status, as Node's default answer gives them; the rest are 400. */
const SLUG_BY_CODE: Readonly<Record<string, ProblemSlug>> = {
  HPE_HEADER_OVERFLOW: "request-header-too-large",
  ERR_HTTP_REQUEST_TIMEOUT: "request-timeout",
};

/**
 * Answers a request that Node's HTTP parser refused — a control character in a header
 * (as in an idempotency key), a malformed request line, headers over `maxHeaderSize`, a
 * request that did not arrive within `requestTimeout` — with problem+json instead of
 * Node's bare status line. There is no request or response object then, so the answer is
 * written to the socket, which is closed after it. Like Node's default, it answers only
 * when nothing was written to the connection yet; a connection the client reset is just
 * closed. The gateway installs it; install it on your own server with
 * `server.on("clientError", respondToClientError)`.
 * @example
 * const server = http.createServer(withIdempotency(handler, { store }));
 * server.on("clientError", respondToClientError);
 */
export const respondToClientError = clientErrorResponder("problem");

/** {@link respondToClientError} with the answers in `format` (the `errorFormat` option). */
export function clientErrorResponder(
  format: ErrorFormat,
): (error: Error & { code?: string }, socket: Duplex) => void {
  return function respondToClientError(error, socket) {
    const connection = socket as Duplex & { bytesWritten?: number };
    if (error.code === "ECONNRESET" || !socket.writable || (connection.bytesWritten ?? 0) > 0) {
      socket.destroy();
      return;
    }
    const slug = SLUG_BY_CODE[error.code ?? ""] ?? "malformed-request";
    const detail =
      slug === "malformed-request"
        ? `the request could not be parsed as HTTP/1.1 (${error.code ?? error.message}); a header value may hold a control character`
        : error.message;
    const { status, headers, body } = problem(slug, detail, undefined, [], format);
    const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`];
    for (const [name, value] of headers) lines.push(`${name}: ${value}`);
    lines.push(`content-length: ${Buffer.byteLength(body)}`, "connection: close");
    socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  };
}
