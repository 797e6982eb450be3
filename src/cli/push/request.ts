/**
 * The HTTP side of `oncely push`: the target URL, headers, body and what an answer means.
 * @module
 */
import { basename } from "node:path";
import { contentType } from "mime-types";

/** What a file whose extension says nothing is sent as. */
const UNKNOWN_MEDIA_TYPE = "application/octet-stream";

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

/**
 * The media type a file is sent as when `--content-type` is not given: a `Content-Type`
 * from `--header` (one type for every file), else the type its extension stands for
 * (`.csv` → `text/csv; charset=utf-8`), else `application/octet-stream`.
 */
export function mediaTypeOf(file: string, headers: Headers): string {
  return headers.get("content-type") ?? (contentType(basename(file)) || UNKNOWN_MEDIA_TYPE);
}

/** The request headers for one file: raw bytes carry their media type; a form's own type is set by fetch. */
export function requestHeaders(headers: Headers, type: string, field: string | undefined): Headers {
  const perFile = new Headers(headers);
  if (field === undefined) perFile.set("content-type", type);
  else perFile.delete("content-type");
  return perFile;
}

/** The request body for one file: its bytes, or a multipart form with the file, of media type `type`, in `field`. */
export function fileBody(
  bytes: Uint8Array,
  file: string,
  type: string,
  field: string | undefined,
): Uint8Array | FormData {
  if (field === undefined) return bytes;
  const form = new FormData();
  form.append(field, new Blob([bytes], { type }), basename(file));
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
