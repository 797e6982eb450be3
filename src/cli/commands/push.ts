/**
 * `oncely push <files…> --to <url>`: sends each file once, resumably.
 *
 * Every file gets a key from its path, size, mtime and the operation (method, URL with its
 * parameters, form field), so a retry or a rerun reuses it and an idempotent server never
 * executes a file twice. A checkpoint journal records finished files; a rerun skips them.
 * @module
 */
import { readFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import { runBatch } from "../../client/batch.js";
import { HttpStatusError } from "../../client/errors.js";
import { responseInfo } from "../../client/fetch.js";
import { openJournal } from "../../client/journal.js";
import { fileKey } from "../../client/keys.js";
import { expandInputs, outputPath } from "../push/inputs.js";
import { writeAnswer } from "../push/output.js";
import {
  answerDetail,
  fileBody,
  mediaTypeOf,
  parseHeader,
  parseParam,
  requestHeaders,
} from "../push/request.js";

interface PushOptions {
  to: string;
  method: string;
  param: string[];
  header: string[];
  form?: string;
  contentType?: string;
  out?: string;
  ext?: string;
  concurrency: number;
  checkpoint: string;
}

/** Exit code after Ctrl-C, as shells report a process ended by SIGINT. */
const INTERRUPTED = 130;

const collect = (value: string, previous: string[]) => [...previous, value];

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new InvalidArgumentError("must be a positive integer");
  return number;
}

/** Adds `push` to the program. */
export function registerPush(program: Command): void {
  program
    .command("push")
    .description("send files to an HTTP endpoint, each exactly once, resuming where a previous run stopped")
    .argument("<files...>", "files or glob patterns (quote globs to let oncely expand them)")
    .requiredOption("--to <url>", "endpoint that receives each file")
    .option("-X, --method <method>", "HTTP method", "POST")
    .option(
      "--param <name=value>",
      "query parameter added to the URL (repeatable); part of each key",
      collect,
      [],
    )
    .option("--header <line>", 'request header such as "Authorization: Bearer …" (repeatable)', collect, [])
    .option("--form <field>", "send multipart/form-data with the file in this field instead of the raw bytes")
    .option(
      "--content-type <type>",
      "media type of every file (default: from each file's extension, else application/octet-stream)",
    )
    .option("--out <dir>", "write each response body under this folder, at the file's relative path")
    .option("--ext <extension>", "extension of the output files (default: the input's)")
    .option("--concurrency <n>", "files sent at the same time", positiveInteger, 8)
    .option("--checkpoint <path>", "journal of finished files", ".oncely/push.journal")
    .action(async (patterns: string[], options: PushOptions, command: Command) => {
      const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: 2 });
      process.exitCode = await push(patterns, options, usage);
    });
}

async function push(
  patterns: string[],
  options: PushOptions,
  usage: (message: string) => never,
): Promise<number> {
  const url = targetUrl(options, usage);
  const headers = new Headers();
  for (const line of options.header) {
    const header = parseHeader(line) ?? usage(`--header "${line}" must look like "Name: value"`);
    headers.append(...header);
  }
  const files = await expandInputs(patterns);
  if (files.length === 0) usage(`no file matches ${patterns.join(" ")}`);
  const method = options.method.toUpperCase();
  const operation = `${method} ${url.href}${options.form === undefined ? "" : ` form=${options.form}`}`;

  const checkpoint = openJournal(options.checkpoint);
  // The first Ctrl-C stops the batch and saves the journal; a second one kills as usual.
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    const summary = await runBatch(
      files,
      async (file, { fetch }) => {
        const bytes = await readFile(file);
        const type = options.contentType ?? mediaTypeOf(file, headers);
        const body = fileBody(bytes, file, type, options.form);
        const response = await fetch(url, {
          method,
          headers: requestHeaders(headers, type, options.form),
          body,
        });
        if (!response.ok) {
          const attempts = responseInfo(response)?.attempts ?? 1;
          const detail = await answerDetail(response);
          throw new HttpStatusError(
            response.status,
            attempts > 1 ? `${detail} (after ${attempts} attempts)` : detail,
          );
        }
        if (options.out === undefined) await response.body?.cancel();
        else await writeAnswer(outputPath(options.out, file, options.ext), response.body);
      },
      {
        key: (file) => fileKey(file, operation),
        concurrency: options.concurrency,
        checkpoint,
        signal: controller.signal,
        label: (file) => file,
      },
    );
    if (summary.aborted) {
      process.stderr.write(
        `interrupted: progress saved in ${options.checkpoint}; run the same command to finish\n`,
      );
      return INTERRUPTED;
    }
    // A replayed error counts as a replay, but the file still did not go through.
    return summary.failures.length > 0 ? 1 : 0;
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
    await checkpoint.close();
  }
}

/** `--to` with every `--param` added to its query; the parameters are part of the operation. */
function targetUrl(options: PushOptions, usage: (message: string) => never): URL {
  let url: URL;
  try {
    url = new URL(options.to);
  } catch {
    return usage(`--to "${options.to}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") usage(`--to must be an http or https URL`);
  for (const pair of options.param) {
    const param = parseParam(pair) ?? usage(`--param "${pair}" must look like name=value`);
    url.searchParams.append(...param);
  }
  return url;
}
