/**
 * Settings that come from a flag, an `ONCELY_*` environment variable or a JSON config
 * file — in that order of precedence, the first that is set wins, and the default (applied
 * by the engine or the gateway, never copied here) comes last.
 *
 * A setting named `maxKeyLength` is the flag `--max-key-length`, the variable
 * `ONCELY_MAX_KEY_LENGTH` and the config-file field `"maxKeyLength"`.
 * @module
 */
import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { OncelyError } from "../core/errors.js";
import { ValueError } from "./values.js";

/** A command-line mistake: a bad flag, variable, config file or value. The CLI prints it on one line and exits with 2. */
export class UsageError extends OncelyError {
  constructor(message: string, options?: ErrorOptions) {
    super("ONCELY_USAGE", message, options);
  }
}

/** One setting. */
export interface Setting<T> {
  /** Placeholder of the flag's value, e.g. `<duration>`; absent for an on/off switch. */
  readonly placeholder?: string;
  /** One sentence for `--help`. */
  readonly description: string;
  /** The default as `--help` shows it. */
  readonly defaultText?: string;
  /** Turns the text of a flag or variable into the value; throws a `ValueError`. */
  readonly parse: (text: string) => T;
  /** The name the setting had before it took the library's option name; still read, not shown. */
  readonly renamedFrom?: string;
  /**
   * Read from its variable or the config file only, never from a flag: a flag's value is
   * visible to every user of the machine in `ps` and stays in shell history.
   */
  readonly secret?: boolean;
}

/** Settings by name. */
export type SettingTable = Readonly<Record<string, Setting<unknown>>>;

/** The values that were set, by name; unset ones are absent so that their defaults apply. */
export type SettingValues<S extends SettingTable> = {
  -readonly [K in keyof S]?: S[K] extends Setting<infer T> ? T : never;
};

/** Builds a setting with its value type inferred from `parse`. */
export function setting<T>(spec: Setting<T>): Setting<T> {
  return spec;
}

/** `maxKeyLength` → `--max-key-length`. */
export function flagName(name: string): string {
  return `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** `maxKeyLength` → `ONCELY_MAX_KEY_LENGTH`. */
export function envName(name: string): string {
  return `ONCELY_${name.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`;
}

/** Declares the settings as options of `command`, with their variable and default in the help text. */
export function addSettings(command: Command, table: SettingTable): Command {
  const secrets: string[] = [];
  for (const [name, spec] of Object.entries(table)) {
    if (spec.secret) {
      secrets.push(
        `  ${envName(name)}\n      ${spec.description} (variable or config-file field "${name}" only, never a flag)`,
      );
      continue;
    }
    const flag = spec.placeholder ? `${flagName(name)} ${spec.placeholder}` : flagName(name);
    const notes = [
      spec.defaultText === undefined ? undefined : `default: ${spec.defaultText}`,
      `env ${envName(name)}`,
    ];
    command.addOption(new Option(flag, `${spec.description} (${notes.filter(Boolean).join("; ")})`));
    if (spec.renamedFrom) {
      const old = flagName(spec.renamedFrom);
      command.addOption(new Option(spec.placeholder ? `${old} ${spec.placeholder}` : old).hideHelp());
    }
  }
  if (secrets.length > 0) command.addHelpText("after", `\nSecret settings:\n${secrets.join("\n")}`);
  return command;
}

/** Where settings come from, apart from the command line. */
export interface SettingSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The config file's fields (see {@link readConfigFile}); `{}` without one. */
  readonly file: Readonly<Record<string, unknown>>;
  /** The config file's path, for messages. */
  readonly filePath?: string;
}

/**
 * Reads every setting of `table` from the parsed `command`, else from `sources.env`, else
 * from `sources.file`. Throws a {@link UsageError} naming the flag, variable or file field
 * whose value is wrong.
 */
export function resolveSettings<S extends SettingTable>(
  command: Command,
  table: S,
  sources: SettingSources,
): SettingValues<S> {
  const values: Record<string, unknown> = {};
  const flags = command.opts<Record<string, unknown>>();
  for (const [current, spec] of Object.entries(table)) {
    // The current name wins over the one it replaced, within each source.
    const names = spec.renamedFrom ? [current, spec.renamedFrom] : [current];
    const found =
      firstOf(names, (name) => {
        const value = command.getOptionValueSource(name) === "cli" ? flags[name] : undefined;
        return value === undefined
          ? undefined
          : { text: value === true ? "true" : String(value), origin: flagName(name) };
      }) ??
      firstOf(names, (name) => {
        const value = sources.env[envName(name)];
        return value === undefined || value === "" ? undefined : { text: value, origin: envName(name) };
      }) ??
      firstOf(names, (name) => {
        const value = sources.file[name];
        return value === undefined
          ? undefined
          : { text: fileText(value, name, sources.filePath), origin: `"${name}" in ${sources.filePath}` };
      });
    if (found) values[current] = parseValue(spec.parse, found.text, found.origin);
  }
  return values as SettingValues<S>;
}

/** The first of `names` that `read` finds a value for. */
function firstOf<T>(names: readonly string[], read: (name: string) => T | undefined): T | undefined {
  for (const name of names) {
    const found = read(name);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Parses `text` with `parse`; a `ValueError` becomes a {@link UsageError} naming `origin` (a flag, variable or field). */
export function parseValue<T>(parse: (text: string) => T, text: string, origin: string): T {
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof ValueError) throw new UsageError(`invalid value for ${origin}: ${error.message}`);
    throw error;
  }
}

/** A config-file value as the text a flag would carry: numbers and booleans as written, arrays comma-joined. */
function fileText(value: unknown, name: string, filePath: string | undefined): string {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
    return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value.join(",");
  throw new UsageError(
    `invalid value for "${name}" in ${filePath}: expected a string, number, boolean or list of strings`,
  );
}

/**
 * Reads a JSON config file: one object whose fields are setting names. Fields that are
 * not in `tables` are an error, so that a typo never goes unnoticed.
 */
export function readConfigFile(path: string, tables: readonly SettingTable[]): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new UsageError(`cannot read the config file ${path}: ${reason}`, { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`the config file ${path} must hold one JSON object`);
  }
  const known = new Set(
    tables.flatMap((table) =>
      Object.entries(table).flatMap(([name, spec]) => (spec.renamedFrom ? [name, spec.renamedFrom] : [name])),
    ),
  );
  for (const name of Object.keys(parsed)) {
    if (!known.has(name)) throw new UsageError(`unknown setting "${name}" in the config file ${path}`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Runs a command's action, turning a {@link UsageError} into commander's one-line error
 * (which the program exits with code 2 for).
 */
export function reportingUsageErrors<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      const command = args.at(-1) as Command;
      if (error instanceof UsageError)
        command.error(`error: ${error.message}`, { exitCode: 2, code: error.code });
      throw error;
    }
  };
}
