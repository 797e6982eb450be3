// The correctness checks of the comparison, each run against fresh server processes of one
// subject whose handler takes CHECK_DELAY_MS (so that concurrent duplicates overlap). Every
// check answers with what happened (statuses, executions of the handler), not a verdict.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Child, startChild } from "../../test/helpers/processes.js";
import type { Subject } from "./subjects.js";

const CHECK_DELAY_MS = 250;
const body = JSON.stringify({ sku: "A-1", quantity: 2 });

/** One answer, whole. */
interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The checks, in the order of the table's rows. */
export const CHECKS = [
  "replay 200 ms later: byte-identical with headers",
  "retry sent the moment the first answer arrived",
  "50 concurrent duplicates: executions, statuses",
  "50 concurrent duplicates over two processes sharing the store",
  "same key, different payload",
  "300-character key",
  "no key",
  "5 MiB body, then its replay",
] as const;

async function post(url: string, key: string | undefined, payload = body): Promise<Reply> {
  const response = await fetch(`${url}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === undefined ? {} : { "idempotency-key": key }) },
    body: payload,
  });
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: Buffer.from(await response.arrayBuffer()),
  };
}

async function executions(children: readonly Child[]): Promise<number> {
  let total = 0;
  for (const child of children) {
    const response = await fetch(`${child.url}/executions`);
    total += ((await response.json()) as { executions: number }).executions;
  }
  return total;
}

// Headers a replay may add or change without being a different answer.
const TRANSPORT = new Set(["date", "connection", "keep-alive", "transfer-encoding"]);

/** How `replay` differs from `first`: "identical", or what differs. */
function compare(first: Reply, replay: Reply): string {
  const differences: string[] = [];
  if (replay.status !== first.status) differences.push(`status ${replay.status} (first ${first.status})`);
  if (!replay.body.equals(first.body)) differences.push("body differs");
  for (const [name, value] of Object.entries(first.headers)) {
    if (TRANSPORT.has(name)) continue;
    if (replay.headers[name] === undefined) differences.push(`${name} lost`);
    else if (replay.headers[name] !== value) differences.push(`${name} differs`);
  }
  return differences.length === 0 ? "identical" : differences.join(", ");
}

/** "201×1, 409×49". */
function tally(replies: readonly Reply[]): string {
  const counts = new Map<number, number>();
  for (const reply of replies) counts.set(reply.status, (counts.get(reply.status) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `${status}×${count}`)
    .join(", ");
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** Sends `count` duplicates at once, spread over `children`; says what ran and what came back. */
async function duplicates(children: readonly Child[], count: number): Promise<string> {
  const key = randomUUID();
  // Open the connections first, so that the duplicates leave together rather than one per handshake.
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      fetch(`${(children[i % children.length] as Child).url}/executions`).then((r) => r.arrayBuffer()),
    ),
  );
  const before = await executions(children);
  const replies = await Promise.all(
    Array.from({ length: count }, (_, i) => post((children[i % children.length] as Child).url, key)),
  );
  await sleep(CHECK_DELAY_MS * 3);
  return `${plural((await executions(children)) - before, "execution")}; ${tally(replies)}`;
}

/** Runs every check on `subject` over `url` (its store); `shared` says whether two processes can share that store. */
export async function checkSubject(subject: Subject, url: string, shared: boolean): Promise<string[]> {
  const children: Child[] = [];
  const start = async () => {
    const child = await startChild("bench/peers/server.ts", [subject.name, url, String(CHECK_DELAY_MS)]);
    children.push(child);
    return child;
  };
  try {
    const one = await start();
    const cells: string[] = [];

    const key = randomUUID();
    const first = await post(one.url, key);
    await sleep(200);
    cells.push(compare(first, await post(one.url, key)));

    const quick = randomUUID();
    const answered = await post(one.url, quick);
    const retry = await post(one.url, quick);
    cells.push(retry.status === answered.status ? compare(answered, retry) : `${retry.status}`);

    cells.push(await duplicates([one], 50));
    cells.push(shared ? await duplicates([one, await start()], 50) : "n/a: the store lives in one process");

    const reused = randomUUID();
    await post(one.url, reused);
    await sleep(200);
    let before = await executions([one]);
    const other = await post(one.url, reused, JSON.stringify({ sku: "B-2", quantity: 9 }));
    cells.push(`${other.status}, ${plural((await executions([one])) - before, "execution")}`);

    before = await executions([one]);
    const long = await post(one.url, "k".repeat(300));
    cells.push(`${long.status}, ${plural((await executions([one])) - before, "execution")}`);

    before = await executions([one]);
    const none = await post(one.url, undefined);
    cells.push(`${none.status}, ${plural((await executions([one])) - before, "execution")}`);

    const big = JSON.stringify({ sku: "A-1", note: "x".repeat(5 * 1024 * 1024) });
    const bigKey = randomUUID();
    const bigFirst = await post(one.url, bigKey, big);
    await sleep(500);
    const bigReplay = await post(one.url, bigKey, big);
    cells.push(
      `${bigFirst.status}, then ${bigReplay.status === bigFirst.status ? compare(bigFirst, bigReplay) : bigReplay.status}`,
    );
    return cells;
  } catch (error) {
    return CHECKS.map(() => `failed: ${String(error).slice(0, 80)}`);
  } finally {
    await Promise.all(children.map((child) => child.stop("SIGKILL")));
  }
}
