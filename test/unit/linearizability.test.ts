import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkLinearizable,
  checkRegisters,
  registerModel,
  type Outcome,
  type RegisterInput,
  type RegisterOp,
  type RegisterOutput,
  type RegisterState,
} from "../helpers/linearizability.js";

/**
 * The linearizability checker of test/helpers/linearizability.ts, on hand-made histories
 * (each one a small story told by the times of its operations) and on histories generated
 * from real sequential executions.
 */

// Hand-made operations on key "x" (unless given), by process p.
const ok = (at: number, output: RegisterOutput = {}): Outcome<RegisterOutput> => ({ type: "ok", at, output });
const op = (invoke: number, input: RegisterInput, outcome: Outcome<RegisterOutput>, process: string | number = "p", key = "x"): RegisterOp => ({
  key,
  process,
  input,
  invoke,
  outcome,
});
const write = (p: string, invoke: number, complete: number, value: string, version?: number, key = "x") =>
  op(invoke, { f: "write", value }, ok(complete, version === undefined ? {} : { version }), p, key);
const read = (p: string, invoke: number, complete: number, value: string | null, version?: number, key = "x") =>
  op(invoke, { f: "read" }, ok(complete, version === undefined ? { value } : { value, version }), p, key);
const lostWrite = (p: string, invoke: number, value: string, key = "x") => op(invoke, { f: "write", value }, { type: "indeterminate" }, p, key);

/** Every key starts as an existing node holding "init" at version 0. */
const existing = (): RegisterState => ({ value: "init", version: 0 });
const check = (h: RegisterOp[], initial: (key: string) => RegisterState = existing) => checkRegisters(h, initial);

describe("linearizability checker: hand-made histories", () => {
  it("accepts a sequential history", () => {
    const h = [write("a", 0, 1, "1", 1), read("a", 2, 3, "1", 1), write("b", 4, 5, "2", 2), read("c", 6, 7, "2", 2), write("a", 8, 9, "3")];
    expect(check(h)).toMatchObject({ ok: true, keys: 1, operations: 5 });
  });

  it("accepts a read of the initial value and of a node that does not exist yet", () => {
    expect(check([read("a", 0, 1, "init", 0)])).toMatchObject({ ok: true });
    expect(check([read("a", 0, 1, null)], () => ({ value: null, version: -1 }))).toMatchObject({ ok: true });
  });

  it("accepts concurrent writes observed in either order, as long as every reader agrees on one order", () => {
    // a writes 1 and b writes 2 at the same time; afterwards everybody sees 2, so 1 came first.
    const h = [write("a", 0, 10, "1"), write("b", 1, 11, "2"), read("c", 12, 13, "2"), read("d", 14, 15, "2")];
    expect(check(h)).toMatchObject({ ok: true });
    // A read concurrent with both may see the intermediate value.
    const h2 = [write("a", 0, 10, "1"), write("b", 1, 11, "2"), read("c", 2, 9, "1"), read("d", 12, 13, "2")];
    expect(check(h2)).toMatchObject({ ok: true });
    // Two readers during the writes see them in the same order: 1 then 2.
    const h3 = [write("a", 0, 20, "1"), write("b", 0, 20, "2"), read("c", 1, 5, "1"), read("c", 6, 10, "2"), read("d", 11, 15, "2")];
    expect(check(h3)).toMatchObject({ ok: true });
  });

  it("rejects two readers who see concurrent writes in opposite orders", () => {
    const h = [
      write("a", 0, 100, "1"),
      write("b", 0, 100, "2"),
      read("c", 10, 20, "1"),
      read("c", 30, 40, "2"),
      read("d", 10, 20, "2"),
      read("d", 30, 40, "1"),
    ];
    expect(check(h)).toMatchObject({ ok: false, unknown: false });
  });

  it("rejects a stale read: the value was overwritten before the read began", () => {
    const h = [write("a", 0, 1, "1"), write("a", 2, 3, "2"), read("b", 4, 5, "1")];
    const v = check(h);
    expect(v.ok).toBe(false);
    if (v.ok || v.unknown) throw new Error("expected a violation");
    expect(v.violation.key).toBe("x");
    // The explanation names the read that could not be placed and the state it found.
    expect(v.explanation).toContain(`read → ok "1"`);
    expect(v.explanation).toContain(`"2" v2`);
    expect(v.violation.stuck.input).toEqual({ f: "read" });
    expect(v.violation.longestPrefix.map((o) => o.input)).toEqual([
      { f: "write", value: "1" },
      { f: "write", value: "2" },
    ]);
  });

  it("rejects a lost write: an acknowledged write that a later read does not see", () => {
    const h = [write("a", 0, 1, "1"), read("b", 2, 3, "init")];
    expect(check(h)).toMatchObject({ ok: false, unknown: false });
    // The same with a final read long after: "1" was acknowledged, so the final state must reflect it.
    const h2 = [write("a", 0, 1, "1"), write("b", 0.5, 2, "2"), read("final", 10, 11, "init")];
    expect(check(h2)).toMatchObject({ ok: false });
  });

  it("accepts an indeterminate write that is later observed", () => {
    const h = [lostWrite("a", 0, "1"), read("b", 5, 6, "init"), read("b", 10, 11, "1", 1), write("c", 12, 13, "2", 2)];
    expect(check(h)).toMatchObject({ ok: true });
  });

  it("accepts an indeterminate write that is never observed", () => {
    const h = [lostWrite("a", 0, "1"), read("b", 5, 6, "init"), write("c", 7, 8, "2", 1), read("b", 10, 11, "2", 1)];
    expect(check(h)).toMatchObject({ ok: true });
  });

  it("rejects an indeterminate write observed before it was invoked", () => {
    const h = [read("b", 0, 1, "1"), lostWrite("a", 2, "1")];
    expect(check(h)).toMatchObject({ ok: false });
  });

  it("rejects an indeterminate write observed, then gone, then back (applied twice)", () => {
    const h = [lostWrite("a", 0, "1"), read("b", 5, 6, "1"), write("c", 7, 8, "2"), read("b", 9, 10, "1")];
    expect(check(h)).toMatchObject({ ok: false });
  });

  it("rejects a read of a value that was never written", () => {
    const h = [write("a", 0, 10, "1"), read("b", 2, 8, "ghost")];
    const v = check(h);
    expect(v).toMatchObject({ ok: false, unknown: false });
    if (!v.ok && !v.unknown) expect(v.violation.stuck.outcome).toMatchObject({ output: { value: "ghost" } });
  });

  it("checks versions: a value seen with two versions was applied twice", () => {
    // Unique values, but the second read says the node was written once more in between.
    const h = [write("a", 0, 1, "1", 1), read("b", 2, 3, "1", 1), read("b", 4, 5, "1", 2)];
    expect(check(h)).toMatchObject({ ok: false });
    // An acknowledged version that skips one: something else was applied.
    expect(check([write("a", 0, 1, "1", 2)])).toMatchObject({ ok: false });
  });

  it("models conditional writes: a BADVERSION failure is an observation too", () => {
    const cas = (p: string, invoke: number, complete: number, expectedVersion: number, value: string, succeeded: boolean, version?: number) =>
      op(invoke, { f: "cas", expectedVersion, value }, succeeded ? ok(complete, version === undefined ? {} : { version }) : { type: "fail", at: complete }, p);
    // Two CASes from version 0: exactly one may win.
    expect(check([cas("a", 0, 10, 0, "1", true, 1), cas("b", 0, 10, 0, "2", false), read("c", 11, 12, "1", 1)])).toMatchObject({ ok: true });
    expect(check([cas("a", 0, 10, 0, "1", true, 1), cas("b", 0, 10, 0, "2", true, 1)])).toMatchObject({ ok: false });
    // A failure at a time the version matched, with nothing concurrent, is impossible.
    expect(check([cas("a", 0, 1, 0, "1", false)])).toMatchObject({ ok: false });
    // An indeterminate CAS may have applied or not.
    const maybe = op(0, { f: "cas", expectedVersion: 0, value: "1" }, { type: "indeterminate" }, "a");
    expect(check([maybe, read("b", 5, 6, "1", 1)])).toMatchObject({ ok: true });
    expect(check([maybe, read("b", 5, 6, "init", 0)])).toMatchObject({ ok: true });
  });

  it("models creates: once only; NODEEXISTS means it was there", () => {
    const absent = (): RegisterState => ({ value: null, version: -1 });
    const create = (p: string, invoke: number, complete: number, value: string, outcome: "ok" | "fail" | "indeterminate") =>
      op(invoke, { f: "create", value }, outcome === "ok" ? ok(complete, { version: 0 }) : outcome === "fail" ? { type: "fail", at: complete } : { type: "indeterminate" }, p);
    expect(check([create("a", 0, 1, "1", "ok"), read("b", 2, 3, "1", 0)], absent)).toMatchObject({ ok: true });
    expect(check([create("a", 0, 1, "1", "ok"), create("b", 2, 3, "2", "ok")], absent)).toMatchObject({ ok: false });
    expect(check([create("a", 0, 10, "1", "ok"), create("b", 0, 10, "2", "fail"), read("c", 11, 12, "1")], absent)).toMatchObject({ ok: true });
    // An acknowledged create, then a final read that finds nothing: lost.
    expect(check([create("a", 0, 1, "1", "ok"), read("b", 2, 3, null)], absent)).toMatchObject({ ok: false });
    // An indeterminate create: found or not, both fine.
    expect(check([create("a", 0, 0, "1", "indeterminate"), read("b", 2, 3, null)], absent)).toMatchObject({ ok: true });
    expect(check([create("a", 0, 0, "1", "indeterminate"), read("b", 2, 3, "1", 0)], absent)).toMatchObject({ ok: true });
    // setData on a missing node fails (NONODE): fine while absent, not after an acknowledged create.
    const failedWrite = (invoke: number, complete: number) => op(invoke, { f: "write", value: "w" }, { type: "fail", at: complete }, "c");
    expect(check([failedWrite(0, 1), create("a", 2, 3, "1", "ok")], absent)).toMatchObject({ ok: true });
    expect(check([create("a", 0, 1, "1", "ok"), failedWrite(2, 3)], absent)).toMatchObject({ ok: false });
  });

  it("checks keys independently, and names the key that fails", () => {
    const good = [write("a", 0, 1, "1", 1, "k1"), read("b", 2, 3, "1", 1, "k1")];
    const bad = [write("a", 0, 1, "1", 1, "k2"), read("b", 2, 3, "init", 0, "k2")];
    expect(check(good)).toMatchObject({ ok: true, keys: 1 });
    const v = check([...good, ...bad]);
    expect(v).toMatchObject({ ok: false, unknown: false, violation: { key: "k2" } });
  });

  it("rejects an operation that completes before it is invoked (a broken recorder)", () => {
    expect(() => check([write("a", 5, 1, "1")])).toThrow(/before it is invoked/);
  });

  it("says `unknown`, not ok, when the step budget runs out", () => {
    const h = Array.from({ length: 20 }, (_, i) => write(`p${i}`, 0, 100, `v${i}`));
    h.push(read("r", 101, 102, "v7"));
    expect(checkRegisters(h, existing, { maxSteps: 50 })).toMatchObject({ ok: false, unknown: true, key: "x" });
  });

  it("stays fast on a few hundred heavily concurrent operations per key (memoization)", () => {
    // 6 processes, each doing 60 ops back to back with long overlapping intervals. Within a
    // round the ops take effect in the reverse of their invocation order, and the versions
    // say so, so the search must backtrack a lot; the history is linearizable.
    const h: RegisterOp[] = [];
    let state = existing();
    for (let round = 0; round < 60; round++) {
      for (let p = 0; p < 6; p++) {
        const invoke = round * 6 + (5 - p) * 0.1;
        const complete = round * 6 + 8;
        if ((round + p) % 3 === 0) h.push(read(`p${p}`, invoke, complete, state.value, state.version));
        else {
          state = { value: `r${round}p${p}`, version: state.version + 1 };
          h.push(write(`p${p}`, invoke, complete, state.value!, state.version));
        }
      }
    }
    const v = checkRegisters(h, existing, { maxSteps: 2_000_000 });
    if (!v.ok) throw new Error(v.explanation);
    expect(v).toMatchObject({ ok: true, operations: 360 });
    expect(v.steps).toBeLessThan(2_000_000);
  });

  it("works with any model (a counter), through checkLinearizable", () => {
    const counter = {
      init: () => 0,
      step: (s: number, input: "inc" | "get", o: Outcome<number>) => (input === "inc" ? s + 1 : o.type !== "ok" || o.output === s ? s : undefined),
      hash: (s: number) => String(s),
    };
    const h = [
      { key: "c", input: "inc" as const, invoke: 0, outcome: { type: "ok" as const, at: 5, output: 0 } },
      { key: "c", input: "inc" as const, invoke: 0, outcome: { type: "indeterminate" as const } },
      { key: "c", input: "get" as const, invoke: 6, outcome: { type: "ok" as const, at: 7, output: 2 } },
    ];
    expect(checkLinearizable(h, counter)).toMatchObject({ ok: true });
    expect(checkLinearizable([h[0], { ...h[2], outcome: { type: "ok" as const, at: 7, output: 3 } }], counter)).toMatchObject({ ok: false });
  });
});

// ------------------------------------------------------------------ generated histories

type Step = {
  kind: "write" | "read" | "cas" | "create";
  key: number;
  before: number;
  after: number;
  fate: "ok" | "lostApplied" | "lostNotApplied";
  casHit: boolean;
};

const stepArb: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom("write", "read", "read", "cas", "create"),
  key: fc.integer({ min: 0, max: 2 }),
  // How far before / after its linearization point an operation is invoked / completes:
  // up to 4 neighbours either side overlap with it.
  before: fc.integer({ min: 0, max: 40 }),
  after: fc.integer({ min: 0, max: 40 }),
  fate: fc.constantFrom("ok", "ok", "ok", "ok", "lostApplied", "lostNotApplied"),
  casHit: fc.boolean(),
});

/** Keys k0 and k1 start as nodes holding "init"; k2 does not exist (creates go there). */
const initialOf = (key: string): RegisterState => (key === "k2" ? { value: null, version: -1 } : { value: "init", version: 0 });

/**
 * Runs the steps one after the other against a real register (the i-th takes effect at time
 * 10·i) and records what each client would have seen, with its interval stretched randomly
 * around that instant. Such a history is linearizable by construction.
 */
function execute(steps: Step[]): { history: RegisterOp[]; failedCasValues: string[] } {
  const state = new Map<string, RegisterState>(["k0", "k1", "k2"].map((k) => [k, initialOf(k)]));
  const history: RegisterOp[] = [];
  const failedCasValues: string[] = [];
  steps.forEach((s, i) => {
    const key = s.key === 2 || s.kind === "create" ? "k2" : `k${s.key}`;
    const cur = state.get(key)!;
    const t = 10 * i + 100;
    const invoke = t - s.before;
    const at = t + s.after;
    const value = `v${i}`;
    const lost = s.fate !== "ok";
    const effect = s.fate !== "lostNotApplied";
    const push = (input: RegisterInput, outcome: Outcome<RegisterOutput>) => history.push({ key, process: `p${i % 5}`, input, invoke, outcome });
    switch (s.kind) {
      case "read":
        push({ f: "read" }, lost ? { type: "indeterminate" } : ok(at, { value: cur.value, version: cur.value === null ? undefined : cur.version }));
        break;
      case "write":
      case "create":
      case "cas": {
        const input: RegisterInput =
          s.kind === "write"
            ? { f: "write", value }
            : s.kind === "create"
              ? { f: "create", value }
              : { f: "cas", expectedVersion: s.casHit ? cur.version : cur.version + 7, value };
        const applies = s.kind === "create" ? cur.value === null : cur.value !== null && (s.kind === "write" || s.casHit);
        const next: RegisterState = { value, version: s.kind === "create" ? 0 : cur.version + 1 };
        if (applies && effect) state.set(key, next);
        if (lost) push(input, { type: "indeterminate" });
        else if (applies) push(input, ok(at, { version: next.version }));
        else {
          push(input, { type: "fail", at });
          failedCasValues.push(value);
        }
        break;
      }
    }
  });
  // A final read of every key, after everything: what the store ended with.
  const end = 10 * steps.length + 1000;
  for (const [key, s] of state) history.push({ key, process: "final", input: { f: "read" }, invoke: end, outcome: ok(end + 1, { value: s.value }) });
  return { history, failedCasValues };
}

describe("linearizability checker: generated histories", () => {
  it("accepts every history recorded from a sequential execution with overlapping intervals", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), (steps) => {
        const { history } = execute(steps);
        const v = checkRegisters(history, initialOf);
        if (!v.ok) throw new Error(v.explanation);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects such a history once one read is changed to a value that was never current", () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { minLength: 1, maxLength: 80 }),
        fc.nat(),
        fc.boolean(),
        (steps, pick, useFailedCas) => {
          const { history, failedCasValues } = execute(steps);
          const reads = history.filter((o) => o.input.f === "read" && o.outcome.type === "ok");
          const victim = reads[pick % reads.length]; // the final reads guarantee there is one
          // Never written at all, or written only by a CAS that definitely failed.
          const ghost = useFailedCas && failedCasValues.length > 0 ? failedCasValues[pick % failedCasValues.length] : "never-written";
          const mutated = history.map((o) => (o === victim ? { ...o, outcome: { ...(o.outcome as { type: "ok"; at: number; output: RegisterOutput }), output: { value: ghost } } } : o));
          const v = checkRegisters(mutated, initialOf);
          if (v.ok) throw new Error(`accepted a read of ${JSON.stringify(ghost)}`);
          if (v.unknown) throw new Error(v.explanation);
          return v.violation.key === victim.key;
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the register model accepts any indeterminate operation in any state", () => {
    const m = registerModel();
    const states: RegisterState[] = [{ value: null, version: -1 }, { value: "a", version: 0 }, { value: "b", version: 5 }];
    const inputs: RegisterInput[] = [{ f: "read" }, { f: "write", value: "w" }, { f: "cas", expectedVersion: 0, value: "c" }, { f: "create", value: "n" }];
    for (const s of states) for (const i of inputs) expect(m.step(s, i, { type: "indeterminate" })).toBeDefined();
  });
});
