// The set of short-lived items that requests in flight and lease renewals are kept in:
// membership, removal from any position, and iteration while items leave.
import { describe, expect, it } from "vitest";
import { SlotArray } from "../../src/core/slot-array.js";

const item = (name: string) => ({ name, slot: -1 });

describe("SlotArray", () => {
  it("adds, removes from any position and counts", () => {
    const items = new SlotArray<ReturnType<typeof item>>();
    const [a, b, c] = [item("a"), item("b"), item("c")];
    for (const x of [a, b, c]) items.add(x);
    expect(items.size).toBe(3);
    expect(items.delete(a)).toBe(true);
    expect([...items].map((x) => x.name).sort()).toEqual(["b", "c"]);
    expect(items.delete(c)).toBe(true);
    expect([...items]).toEqual([b]);
    expect(b.slot).toBe(0);
    expect(a.slot).toBe(-1);
  });

  it("ignores an item it does not hold, or no longer holds", () => {
    const items = new SlotArray<ReturnType<typeof item>>();
    const [a, b] = [item("a"), item("b")];
    items.add(a);
    expect(items.delete(b)).toBe(false);
    expect(items.delete(a)).toBe(true);
    expect(items.delete(a)).toBe(false);
    expect(items.size).toBe(0);
  });

  it("iterates over every item even when they leave during the iteration", () => {
    const items = new SlotArray<ReturnType<typeof item>>();
    const all = Array.from({ length: 5 }, (_, i) => item(String(i)));
    for (const x of all) items.add(x);
    const seen: string[] = [];
    for (const x of items) {
      seen.push(x.name);
      items.delete(x);
    }
    expect(seen.sort()).toEqual(["0", "1", "2", "3", "4"]);
    expect(items.size).toBe(0);
  });
});
