/**
 * The conversions of the demo API: CSV → JSON, JSON → CSV and Markdown → HTML, done by
 * csv-parse, csv-stringify and marked. They are optional peer dependencies (installed
 * in this repository as dev dependencies), loaded on first use.
 * @module
 */
import { OncelyError } from "../core/errors.js";
import { importOptional } from "../core/optional-dependency.js";

/** What a request can ask for with `?target=`. */
export const TARGETS = ["json", "csv", "html"] as const;
export type Target = (typeof TARGETS)[number];

/** Input formats, recognised by their media type. */
const SOURCES: Record<string, Source> = {
  "text/csv": "csv",
  "application/json": "json",
  "text/markdown": "markdown",
  "text/x-markdown": "markdown",
};
type Source = "csv" | "json" | "markdown";

/** Which source converts to which target. */
const SUPPORTED: Record<Source, Target> = { csv: "json", json: "csv", markdown: "html" };

/** The input cannot be converted; `status` is 400 (bad input) or 415 (unsupported format). */
export class ConversionError extends OncelyError {
  readonly status: 400 | 415;

  constructor(status: 400 | 415, message: string, options?: ErrorOptions) {
    super("ONCELY_DEMO_CONVERSION", message, options);
    this.status = status;
  }
}

/** A converted document. */
export interface Converted {
  readonly contentType: string;
  readonly body: string;
}

/**
 * Converts `input`, whose media type is `contentType`, to `target`.
 * @throws {ConversionError} for an unsupported pair or malformed input
 */
export async function convert(
  input: string,
  contentType: string | undefined,
  target: Target,
): Promise<Converted> {
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const source = SOURCES[mediaType];
  if (!source) {
    throw new ConversionError(
      415,
      `send Content-Type ${Object.keys(SOURCES).join(", ")}; got ${JSON.stringify(mediaType)}`,
    );
  }
  if (SUPPORTED[source] !== target) {
    throw new ConversionError(415, `${source} converts to ${SUPPORTED[source]}, not ${target}`);
  }
  switch (source) {
    case "csv":
      return {
        contentType: "application/json",
        body: `${JSON.stringify(await csvToRecords(input), null, 2)}\n`,
      };
    case "json":
      return { contentType: "text/csv; charset=utf-8", body: await recordsToCsv(jsonRecords(input)) };
    case "markdown":
      return { contentType: "text/html; charset=utf-8", body: await markdownToHtml(input) };
  }
}

/** CSV with a header row → one object per row. */
async function csvToRecords(input: string): Promise<Record<string, string>[]> {
  const { parse } = await load("csv-parse", () => import("csv-parse/sync"));
  try {
    return parse(input, { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  } catch (error) {
    throw new ConversionError(400, `malformed CSV: ${(error as Error).message}`, { cause: error });
  }
}

/** A JSON array of objects (or one object) → its rows; nested values become JSON text. */
function jsonRecords(input: string): Record<string, unknown>[] {
  let value: unknown;
  try {
    value = JSON.parse(input);
  } catch (error) {
    throw new ConversionError(400, `malformed JSON: ${(error as Error).message}`, { cause: error });
  }
  const rows = Array.isArray(value) ? value : [value];
  if (rows.some((row) => typeof row !== "object" || row === null || Array.isArray(row))) {
    throw new ConversionError(400, "expected a JSON object or an array of objects");
  }
  return rows as Record<string, unknown>[];
}

async function recordsToCsv(rows: Record<string, unknown>[]): Promise<string> {
  const { stringify } = await load("csv-stringify", () => import("csv-stringify/sync"));
  // Columns in order of first appearance, so rows with different fields still line up.
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) =>
    columns.map((column) => {
      const cell = row[column];
      return typeof cell === "object" && cell !== null ? JSON.stringify(cell) : cell;
    }),
  );
  return stringify(cells, { header: true, columns });
}

async function markdownToHtml(input: string): Promise<string> {
  const { Marked } = await load("marked", () => import("marked"));
  // Raw HTML in the Markdown is shown as text, never passed through: the output is safe to serve.
  const marked = new Marked({ async: false, renderer: { html: ({ text }) => escapeHtml(text) } });
  return marked.parse(input) as string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function load<T>(packageName: string, importer: () => Promise<T>): Promise<T> {
  return importOptional(packageName, "The demo's conversions", importer);
}
