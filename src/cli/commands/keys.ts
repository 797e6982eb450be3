/**
 * `oncely keys list|show|delete|purge`: inspect and manage the records of a store.
 * Output never shows a credential: scopes are hashes, owner tokens are left out, and
 * credential-bearing response headers are redacted.
 * @module
 */
import type { Command } from "commander";
import { OncelyError } from "../../core/errors.js";
import { GATEWAY_DEFAULTS } from "../../gateway/options.js";
import { redactHeaders } from "../../records/redact.js";
import { type IdempotencyRecord, type InspectableStore, isInspectable } from "../../store.js";
import { createStore } from "../../stores/create-store.js";
import { LISTEN_SETTINGS } from "../gateway-settings.js";
import { addSettings, parseValue, reportingUsageErrors, resolveSettings, UsageError } from "../settings.js";
import { parseInteger } from "../values.js";

/** There is no live record for the key asked about. */
export class RecordNotFoundError extends OncelyError {
  constructor(key: string) {
    super("ONCELY_RECORD_NOT_FOUND", `no live record for key ${JSON.stringify(key)}`);
  }
}

/** Records read per `list()` call. */
const PAGE = 200;

/** `--store`, also from `ONCELY_STORE`, and the keys that decrypt its records from `ONCELY_ENCRYPTION_KEYS`. */
const STORE_SETTING = { store: LISTEN_SETTINGS.store, encryptionKeys: LISTEN_SETTINGS.encryptionKeys };

/** Registers `keys` and its subcommands on the program. */
export function registerKeys(program: Command): void {
  const keys = program
    .command("keys")
    .summary("inspect and manage stored idempotency records")
    .description(
      "Inspect and manage the records of a store. Scopes are hashes of credentials, never credentials.",
    );

  addSettings(keys.command("list"), STORE_SETTING)
    .description("list live records: state, status, body size, key, scope and times")
    .option("--limit <n>", "show at most this many records (default: 100)")
    .option("--json", "one JSON object per line instead of a table")
    .action(
      reportingUsageErrors(async (flags: { limit?: string; json?: boolean }, command: Command) => {
        const limit =
          flags.limit === undefined
            ? 100
            : parseValue((text) => parseInteger(text, 1), flags.limit, "--limit");
        await withStore(command, async (store) => {
          const { records, more } = await listRecords(store, limit);
          if (flags.json) for (const record of records) print(JSON.stringify(describe(record)));
          else printTable(records);
          if (more) print(`… more records exist; raise --limit (showing ${records.length})`);
        });
      }),
    );

  addSettings(keys.command("show"), STORE_SETTING)
    .description("show a record: status, headers, body size, fingerprint and times")
    .argument("<key>", "the idempotency key")
    .option("--scope <scope>", "the record's scope (default: every scope that has this key)")
    .option("--json", "print JSON")
    .action(
      reportingUsageErrors(
        async (key: string, flags: { scope?: string; json?: boolean }, command: Command) => {
          await withStore(command, async (store) => {
            const records = await findRecords(store, key, flags.scope);
            if (records.length === 0) throw new RecordNotFoundError(key);
            for (const record of records)
              print(flags.json ? JSON.stringify(describe(record)) : details(record));
          });
        },
      ),
    );

  addSettings(keys.command("delete"), STORE_SETTING)
    .description("delete a record, in flight or completed, so that the key executes anew")
    .argument("<key>", "the idempotency key")
    .option("--scope <scope>", "the record's scope (needed when several scopes use this key)")
    .action(
      reportingUsageErrors(async (key: string, flags: { scope?: string }, command: Command) => {
        await withStore(command, async (store) => {
          const records = await findRecords(store, key, flags.scope);
          if (records.length === 0) throw new RecordNotFoundError(key);
          if (records.length > 1) {
            throw new UsageError(
              `key ${JSON.stringify(key)} is used in ${records.length} scopes; pass --scope (see oncely keys show)`,
            );
          }
          const [record] = records as [IdempotencyRecord];
          await store.delete(record);
          print(`deleted ${JSON.stringify(key)} (scope ${record.scope})`);
        });
      }),
    );

  addSettings(keys.command("purge"), STORE_SETTING)
    .description("delete expired records and lapsed leases (with --all: every record)")
    .option("--all", "delete every record, live ones included")
    .action(
      reportingUsageErrors(async (flags: { all?: boolean }, command: Command) => {
        await withStore(command, async (store) => {
          const expired = await store.purgeExpired();
          let live = 0;
          // Each pass deletes the first page; it stops when a pass finds nothing left to delete.
          for (let deleted = flags.all ? 1 : 0; deleted > 0; live += deleted) {
            deleted = 0;
            for (const record of (await store.list({ limit: PAGE })).records)
              if (await store.delete(record)) deleted++;
          }
          print(
            flags.all
              ? `deleted ${live} live and ${expired} expired records`
              : `purged ${expired} expired records`,
          );
        });
      }),
    );
}

async function withStore(command: Command, use: (store: InspectableStore) => Promise<void>): Promise<void> {
  const settings = resolveSettings(command, STORE_SETTING, { env: process.env, file: {} });
  const url = settings.store ?? GATEWAY_DEFAULTS.store;
  const { encryptionKeys: keys } = settings;
  const store = await createStore(url, keys ? { encryption: { keys } } : {});
  try {
    if (!isInspectable(store)) {
      throw new UsageError(
        `the ${url.slice(0, url.indexOf(":") + 1)} store cannot list or delete records yet`,
      );
    }
    await use(store);
  } finally {
    await store.close();
  }
}

async function listRecords(
  store: InspectableStore,
  limit: number,
): Promise<{ records: IdempotencyRecord[]; more: boolean }> {
  const records: IdempotencyRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({
      limit: Math.min(PAGE, limit - records.length + 1),
      ...(cursor ? { cursor } : {}),
    });
    records.push(...page.records);
    cursor = page.cursor;
  } while (cursor && records.length <= limit);
  return { records: records.slice(0, limit), more: records.length > limit || cursor !== undefined };
}

/** The records of `key`: the one in `scope`, or those of every scope (found by listing). */
async function findRecords(
  store: InspectableStore,
  key: string,
  scope: string | undefined,
): Promise<IdempotencyRecord[]> {
  if (scope !== undefined) {
    const record = await store.get({ scope, key });
    return record ? [record] : [];
  }
  const found: IdempotencyRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: PAGE, ...(cursor ? { cursor } : {}) });
    found.push(...page.records.filter((record) => record.key === key));
    cursor = page.cursor;
  } while (cursor);
  return found;
}

/** What is shown of a record: everything but the body bytes and the owner token. */
function describe(record: IdempotencyRecord): Record<string, unknown> {
  const common = {
    key: record.key,
    scope: record.scope,
    state: record.state,
    fingerprint: record.fingerprint,
    createdAt: iso(record.createdAt),
  };
  if (record.state === "in_flight") return { ...common, leaseExpiresAt: iso(record.leaseExpiresAt) };
  const { response } = record;
  return {
    ...common,
    completedAt: iso(record.completedAt),
    expiresAt: iso(record.expiresAt),
    status: response.status,
    bodyBytes: response.bodyLength,
    bodyOmitted: response.bodyOmitted,
    headers: redactHeaders(response.headers),
  };
}

function details(record: IdempotencyRecord): string {
  const fields = describe(record);
  const { headers, ...rest } = fields as { headers?: Array<[string, string]> };
  const lines = Object.entries(rest).map(([name, value]) => `${name.padEnd(15)}${String(value)}`);
  if (headers) lines.push("headers", ...headers.map(([name, value]) => `  ${name}: ${value}`));
  return `${lines.join("\n")}\n`;
}

function printTable(records: readonly IdempotencyRecord[]): void {
  const rows = records.map((record) => [
    record.state === "completed" ? "completed" : "in flight",
    record.state === "completed" ? String(record.response.status) : "-",
    record.state === "completed" ? String(record.response.bodyLength) : "-",
    iso(record.createdAt),
    record.state === "completed" ? iso(record.expiresAt) : iso(record.leaseExpiresAt),
    record.key,
    record.scope,
  ]);
  const header = ["STATE", "STATUS", "BYTES", "CREATED", "EXPIRES", "KEY", "SCOPE"];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] as string).length)),
  );
  for (const row of [header, ...rows])
    print(
      row
        .map((cell, column) => cell.padEnd(widths[column] as number))
        .join("  ")
        .trimEnd(),
    );
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}
