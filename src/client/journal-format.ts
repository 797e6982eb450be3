/**
 * The checkpoint journal's file format, one JSON value per line:
 *
 * ```text
 * {"oncely":"checkpoint-journal","version":1}   header, always the first line
 * "file_3q2…"                                    the item with this key is done
 * {"delete":"file_3q2…"}                         the item is forgotten again
 * ```
 *
 * A line counts once its newline is written: an unterminated last line is the trace of a
 * write cut short by a crash, and is dropped.
 * @module
 */
import { hashPlainBytes } from "./byte-key-set.js";
import { CorruptJournalError } from "./errors.js";
import { JournalKeys } from "./journal-keys.js";

/** The first line of every journal. */
export const HEADER = `${JSON.stringify({ oncely: "checkpoint-journal", version: 1 })}\n`;

/** The line recording `key` as done. */
export function doneLine(key: string): string {
  return `${JSON.stringify(key)}\n`;
}

/** The line forgetting `key`. */
export function deleteLine(key: string): string {
  return `${JSON.stringify({ delete: key })}\n`;
}

/** What a journal file holds. */
export interface JournalContent {
  /** Keys done and not forgotten. */
  readonly keys: JournalKeys;
  /** Entry lines, header excluded; those beyond `keys.size` are dead and go at compaction. */
  readonly entries: number;
  /** Bytes up to the end of the last complete line; anything after it is a torn write. */
  readonly validLength: number;
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;

/**
 * Reads a journal's bytes. The keys keep a reference to `bytes`.
 * @throws CorruptJournalError when the file is not a journal or a complete line is unreadable
 */
export function parseJournal(bytes: Buffer, path: string): JournalContent {
  const validLength = bytes.lastIndexOf(NEWLINE) + 1;
  if (validLength === 0) {
    // Only a header cut short by a crash may stand alone without a newline.
    if (!HEADER.startsWith(bytes.toString("utf8")))
      throw new CorruptJournalError(path, 1, "not a checkpoint journal");
    return { keys: new JournalKeys(bytes, 0), entries: 0, validLength };
  }
  if (bytes.toString("utf8", 0, HEADER.length) !== HEADER) {
    throw new CorruptJournalError(path, 1, "not a checkpoint journal");
  }
  let lines = 0;
  for (let at = bytes.indexOf(NEWLINE, HEADER.length); at !== -1; at = bytes.indexOf(NEWLINE, at + 1))
    lines++;
  const keys = new JournalKeys(bytes, lines);
  let entries = 0;
  for (let start = HEADER.length; start < validLength; entries++) {
    const end = bytes.indexOf(NEWLINE, start);
    const hash = plainLineHash(bytes, start, end);
    if (hash >= 0) keys.load(start + 1, end - 1, hash);
    else applyLine(keys, bytes.toString("utf8", start, end), path, entries + 2);
    start = end + 1;
  }
  return { keys, entries, validLength };
}

/**
 * The hash of the common line, a quoted plain key, which needs neither JSON parsing nor a
 * string; -1 for any other line.
 */
function plainLineHash(bytes: Buffer, start: number, end: number): number {
  if (end - start < 3 || bytes[start] !== QUOTE || bytes[end - 1] !== QUOTE) return -1;
  return hashPlainBytes(bytes, start + 1, end - 1);
}

function applyLine(keys: JournalKeys, line: string, path: string, lineNumber: number): void {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new CorruptJournalError(path, lineNumber, "unreadable line");
  }
  if (typeof value === "string") keys.add(value);
  else if (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { delete?: unknown }).delete === "string"
  ) {
    keys.delete((value as { delete: string }).delete);
  } else {
    throw new CorruptJournalError(path, lineNumber, "unexpected entry");
  }
}
