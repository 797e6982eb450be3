import { expect } from "vitest";
import type { Verdict } from "./verdict.js";

/**
 * The promises of a chaos run: no duplicate execution while a record lived, no completed
 * record lost, no key stuck in flight, every key answered with its own execution's answer.
 */
export function expectClean(verdict: Verdict): void {
  expect(verdict.duplicates).toEqual([]);
  expect(verdict.lost).toEqual([]);
  expect(verdict.stuck).toEqual([]);
  expect(verdict.unanswered).toEqual([]);
  expect(verdict.wrong).toEqual([]);
  expect(verdict.unexpected).toEqual([]);
  expect(verdict.executions).toBeGreaterThanOrEqual(verdict.keys);
}
