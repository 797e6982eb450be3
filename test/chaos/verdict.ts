// The accounting of a chaos run: executions per key at the witness, against what the clients
// got and what the store holds afterwards.
//
// A key may execute more than once only in the windows docs/guarantees.md states:
// - crash: the owner of the earlier execution was SIGKILLed after it started (after the side
//   effect, before the record completed), and the next execution started after the kill
//   once the dead owner's lease had lapsed (it renews every third of a lease, so its last
//   lease runs at least two thirds of one past its death; the check allows one third);
// - store fault: a store outage, pause or broken link overlapped the earlier execution (from a
//   lease before it to the next execution), so its record could not be renewed or completed.
// In both, the earlier execution's answer must never have been a completed record: no client
// got it as a replay and no look at the store found it completed. Anything else is a duplicate.
import type { Answer, LoadResult } from "./load.js";
import type { Execution } from "./witness.js";

/** A SIGKILL of an owner (app or gateway process). */
export interface Kill {
  readonly owner: string;
  readonly at: number;
  /** At a random moment, or at the witness: right after the side effect, or right after its answer. */
  readonly moment: "random" | "before-answer" | "after-answer";
}

/** A time span in which the store was stopped, paused, slowed or cut off (Date.now() values). */
export interface Fault {
  readonly kind: string;
  readonly from: number;
  to: number;
  /**
   * Whether it can make a store call fail or a lease lapse. Replies delayed by less than a
   * third of a lease can do neither, so they excuse no re-execution and no unstored answer.
   */
  readonly harms: boolean;
}

/** What the store holds for a key after the run (or at a look during it). */
export type Held =
  | { readonly state: "completed"; readonly id: string }
  | { readonly state: "in_flight" | "none" };

export interface RunFacts {
  readonly keys: readonly string[];
  readonly executions: readonly Execution[];
  readonly load: LoadResult;
  readonly kills: readonly Kill[];
  readonly faults: readonly Fault[];
  readonly leaseMs: number;
  /** Execution ids seen completed in the store during the run (looks before each store stop). */
  readonly seenCompleted: ReadonlyMap<string, string>;
  /** The store after the run, once every lease had lapsed. */
  readonly final: ReadonlyMap<string, Held>;
  /** Keys a fresh claim could not take after the run: still in flight past their lease. */
  readonly stuck: readonly string[];
}

/** The counts of one run, as published. */
export interface Verdict {
  keys: number;
  executions: number;
  kills: number;
  /** Of those, right after the upstream's answer, before the record's completion. */
  killsAfterAnswer: number;
  faults: number;
  /** Keys executed exactly once. */
  once: number;
  /** Re-executions after an owner was killed in the crash window (allowed by the docs). */
  afterCrash: number;
  /** Re-executions after a store fault left a record in flight past its lease (allowed by the docs). */
  afterStoreFault: number;
  /** Fresh answers whose record a store fault kept from completing (allowed by the docs). */
  unstoredInFault: number;
  duplicates: string[];
  lost: string[];
  stuck: string[];
  unanswered: string[];
  wrong: string[];
  unexpected: string[];
}

export function judge(facts: RunFacts): Verdict {
  const verdict: Verdict = {
    keys: facts.keys.length,
    executions: facts.executions.length,
    kills: facts.kills.length,
    killsAfterAnswer: facts.kills.filter((kill) => kill.moment === "after-answer").length,
    faults: facts.faults.length,
    once: 0,
    afterCrash: 0,
    afterStoreFault: 0,
    unstoredInFault: 0,
    duplicates: [],
    lost: [],
    stuck: [...facts.stuck],
    unanswered: [...facts.load.unanswered],
    wrong: [],
    unexpected: [...facts.load.unexpected],
  };
  const byKey = group(facts.executions, (execution) => execution.key);
  const answers = group(facts.load.answers, (answer) => answer.key);
  const faultNear = (from: number, to: number) =>
    facts.faults.some((fault) => fault.harms && fault.from <= to && fault.to >= from - facts.leaseMs);

  for (const key of facts.keys) {
    const executions = (byKey.get(key) ?? []).sort((a, b) => a.at - b.at);
    const got = answers.get(key) ?? [];
    const completed = new Set(got.filter((answer) => answer.replayed).map((answer) => answer.id));
    const seen = facts.seenCompleted.get(key);
    if (seen !== undefined) completed.add(seen);
    const final = facts.final.get(key);
    if (final?.state === "completed") completed.add(final.id);
    if (executions.length === 1) verdict.once++;

    for (let i = 0; i + 1 < executions.length; i++) {
      const earlier = executions[i] as Execution;
      const next = executions[i + 1] as Execution;
      // The witness may see a request after its sender died (it was on the way): the kill
      // counts whenever it came before the next execution.
      const killed = facts.kills.find((kill) => kill.owner === earlier.owner && kill.at <= next.at);
      if (completed.has(earlier.id))
        verdict.duplicates.push(`${key}: ${next.id} ran after ${earlier.id} had completed`);
      else if (killed && next.at - killed.at < facts.leaseMs / 3)
        verdict.duplicates.push(
          `${key}: ${next.id} ran ${next.at - killed.at} ms after ${earlier.owner} died, within its lease`,
        );
      else if (killed) verdict.afterCrash++;
      else if (faultNear(earlier.at, next.at)) verdict.afterStoreFault++;
      else verdict.duplicates.push(`${key}: ${next.id} ran while ${earlier.id}'s record lived`);
    }

    const ids = new Set(executions.map((execution) => execution.id));
    for (const answer of got)
      if (!ids.has(answer.id)) verdict.wrong.push(`${key}: answered with ${answer.id}, not its own`);
    // Every completed record seen, by a client or a look at the store, is still there, unchanged.
    for (const id of completed)
      if (final?.state !== "completed" || final.id !== id)
        verdict.lost.push(`${key}: ${id} was completed, the store now holds ${describe(final)}`);
    // A fresh answer is stored before it is sent: it is the record, unless a store fault intervened.
    for (const answer of got.filter((answer: Answer) => !answer.replayed)) {
      if (final?.state === "completed" && final.id === answer.id) continue;
      const execution = executions.find((candidate) => candidate.id === answer.id);
      if (execution && faultNear(execution.at, answer.at)) verdict.unstoredInFault++;
      else verdict.lost.push(`${key}: ${answer.id} was answered fresh, the store holds ${describe(final)}`);
    }
  }
  return verdict;
}

function describe(held: Held | undefined): string {
  if (held === undefined || held.state === "none") return "nothing";
  return held.state === "completed" ? held.id : "a record in flight";
}

function group<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(keyOf(item));
    if (list) list.push(item);
    else groups.set(keyOf(item), [item]);
  }
  return groups;
}
