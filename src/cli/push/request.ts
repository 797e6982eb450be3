/**
 * The HTTP side of `oncely push`: the target URL, headers, body and what an answer means.
 * @module
 */
import { basename } from "node:path";

/** Parses `--header "Name: value"`; undefined when it has no colon or no name. */
export function parseHeader(line: string): readonly [string, string] | undefined {
  const colon = line.indexOf(":");
  if (colon <= 0) return undefined;
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}

/** Parses `--param name=value`; undefined when it has no `=` or no name. */
export function parseParam(pair: string): readonly [string, string] | undefined {
  const equals = pair.indexOf("=");
  if (equals <= 0) return undefined;
  return [pair.slice(0, equals), pair.slice(equals + 1)];
}

/** The request body for one file: its bytes, or a multipart form with the file in `field`. */
export function fileBody(bytes: Uint8Array, file: string, field: string | undefined): Uint8Array | FormData {
  if (field === undefined) return bytes;
  const form = new FormData();
  form.append(field, new Blob([bytes]), basename(file));
  return form;
}

const LONGEST_DETAIL = 200;

/**
 * A one-line reason from an error answer: the `detail` or `title` of a problem+json body,
 * else the start of the body text.
 */
export async function answerDetail(response: Response): Promise<string> {
  const text = await response.text();
  if (/json/i.test(response.headers.get("content-type") ?? "")) {
    try {
      const problem = JSON.parse(text) as { detail?: unknown; title?: unknown };
      const reason = problem.detail ?? problem.title;
      if (typeof reason === "string") return reason;
    } catch {
      // Not JSON after all: fall back to the raw text.
    }
  }
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > LONGEST_DETAIL ? `${line.slice(0, LONGEST_DETAIL)}…` : line;
}
