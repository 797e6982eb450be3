import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecordArena } from "../../src/stores/memory/record-arena.js";

/** Allocates a record of `length` bytes, all equal to `fill`, and returns its slot. */
function add(arena: RecordArena, length: number, fill: number): number {
  const slot = arena.allocate(length);
  arena.bytes(slot).fill(fill);
  return slot;
}

describe("RecordArena", () => {
  it("gives back each record's own bytes, in slabs shared by many records", () => {
    const arena = new RecordArena(1024);
    const slots = Array.from({ length: 40 }, (_, i) => add(arena, 10 + i, i));
    slots.forEach((slot, i) => {
      expect([...arena.bytes(slot)]).toEqual(new Array(10 + i).fill(i));
    });
    // 40 records of 10 to 49 bytes, each with an 8-byte header: about 1.5 KiB in slabs of 1 KiB.
    expect(arena.footprint.slabs).toBe(2);
  });

  it("hands a freed slot out again", () => {
    const arena = new RecordArena(1024);
    const first = add(arena, 16, 1);
    add(arena, 16, 2);
    arena.free(first);
    expect(add(arena, 16, 3)).toBe(first);
    expect([...arena.bytes(first)]).toEqual(new Array(16).fill(3));
  });

  it("drops a slab once its last record is freed, but keeps the one being filled", () => {
    const arena = new RecordArena(1024);
    // Four records of 248 bytes (256 with their headers) fill a slab exactly.
    const full = Array.from({ length: 4 }, (_, i) => add(arena, 248, i));
    const next = add(arena, 248, 9);
    expect(arena.footprint).toEqual({ slabs: 2, bytes: 2048 });
    for (const slot of full) arena.free(slot);
    expect(arena.footprint).toEqual({ slabs: 1, bytes: 1024 });
    arena.free(next);
    expect(arena.footprint).toEqual({ slabs: 1, bytes: 1024 });
  });

  it("gives a record larger than a quarter slab a slab of its own, dropped when it is freed", () => {
    const arena = new RecordArena(1024);
    const small = add(arena, 100, 1);
    const large = add(arena, 5000, 2);
    expect(arena.footprint).toEqual({ slabs: 2, bytes: 1024 + 5008 });
    expect([...arena.bytes(large)]).toEqual(new Array(5000).fill(2));
    // The shared slab goes on being filled after the large record.
    const after = add(arena, 100, 3);
    expect(arena.footprint.slabs).toBe(2);
    arena.free(large);
    expect(arena.footprint).toEqual({ slabs: 1, bytes: 1024 });
    expect([...arena.bytes(small)]).toEqual(new Array(100).fill(1));
    expect([...arena.bytes(after)]).toEqual(new Array(100).fill(3));
  });

  it("moves the few records left in mostly freed slabs when compacting, and drops those slabs", () => {
    const arena = new RecordArena(1024);
    const slots = Array.from({ length: 32 }, (_, i) => add(arena, 56, i));
    // 32 records of 64 bytes with their headers: two full slabs, the second still current.
    expect(arena.footprint.slabs).toBe(2);
    const kept = new Set([3, 17]);
    slots.forEach((slot, i) => {
      if (!kept.has(i)) arena.free(slot);
    });
    // One live record in each: neither empties, so neither is dropped until compacted.
    expect(arena.footprint.slabs).toBe(2);
    arena.compact();
    expect(arena.footprint).toEqual({ slabs: 1, bytes: 1024 });
    for (const i of kept) expect([...arena.bytes(slots[i] as number)]).toEqual(new Array(56).fill(i));
  });

  it("leaves a slab that is a quarter live or more where it is when compacting", () => {
    const arena = new RecordArena(1024);
    const slots = Array.from({ length: 20 }, (_, i) => add(arena, 56, i));
    // Slab 0 holds records 0 to 15, slab 1 (current) 16 to 19: a quarter live each once
    // records 4 to 15 are freed.
    for (let i = 4; i < 16; i++) arena.free(slots[i] as number);
    arena.compact();
    expect(arena.footprint).toEqual({ slabs: 2, bytes: 2048 });
    // Below a quarter: records 1 to 3 move to a fresh slab, and slab 0 goes.
    arena.free(slots[0] as number);
    arena.compact();
    for (const i of [1, 2, 3, 16, 17, 18, 19])
      expect([...arena.bytes(slots[i] as number)]).toEqual(new Array(56).fill(i));
    // Slab 1 was set aside, not moved: freeing its records drops it, leaving the fresh one.
    for (const i of [16, 17, 18, 19]) arena.free(slots[i] as number);
    expect(arena.footprint).toEqual({ slabs: 1, bytes: 1024 });
    expect([...arena.bytes(slots[2] as number)]).toEqual(new Array(56).fill(2));
  });

  it("keeps every live record's bytes through any sequence of allocations, frees and compactions", () => {
    // More adds than frees, so that slabs fill up and then thin out unevenly.
    const step = fc.oneof(
      {
        arbitrary: fc.record({
          op: fc.constant("add" as const),
          length: fc.oneof(fc.nat(300), fc.nat(3000)),
        }),
        weight: 6,
      },
      { arbitrary: fc.record({ op: fc.constant("free" as const), pick: fc.nat() }), weight: 5 },
      { arbitrary: fc.record({ op: fc.constant("compact" as const) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 50, maxLength: 400 }), (steps) => {
        const arena = new RecordArena(2048);
        const live = new Map<number, { length: number; fill: number }>();
        let fill = 0;
        for (const s of steps) {
          if (s.op === "add") {
            fill = (fill + 1) % 256;
            const slot = add(arena, s.length, fill);
            expect(live.has(slot)).toBe(false);
            live.set(slot, { length: s.length, fill });
          } else if (s.op === "free" && live.size > 0) {
            const slot = [...live.keys()][s.pick % live.size] as number;
            arena.free(slot);
            live.delete(slot);
          } else if (s.op === "compact") {
            arena.compact();
          }
        }
        for (const [slot, { length, fill }] of live) {
          const bytes = arena.bytes(slot);
          expect(bytes.length).toBe(length);
          expect(bytes.every((byte) => byte === fill)).toBe(true);
        }
        arena.compact();
        const liveBytes = [...live.values()].reduce((sum, { length }) => sum + length + 8, 0);
        // After compacting, every slab is at least a quarter live (large records have slabs
        // of their own), but for the slab being filled.
        expect(arena.footprint.bytes).toBeLessThanOrEqual(4 * liveBytes + 2048);
      }),
    );
  });
});
