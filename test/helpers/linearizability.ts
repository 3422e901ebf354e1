/**
 * A linearizability checker for recorded histories, in the style of Knossos and Porcupine:
 * the Wing–Gong search with Lowe's memoization ("WGL"), over a sequential model.
 *
 * Why it is built this way:
 *
 * - **Per key.** Linearizability is local (Herlihy & Wing): a history is linearizable iff the
 *   sub-history of every object is. So a keyed history is split by key and each key is
 *   searched on its own, which turns one hopeless search over N ops into K small ones.
 * - **Wing–Gong.** Events (invocations and completions) are laid out in time order in a
 *   linked list. The search repeatedly picks an operation whose invocation comes before the
 *   first completion still in the list (only those may take effect next), applies it to the
 *   model, and removes it; when it reaches a completion it cannot pass, it backtracks. Every
 *   completed operation must be placed before its completion: that is exactly the real-time
 *   order linearizability demands.
 * - **Lowe's memoization.** Two search paths that have placed the same set of operations and
 *   reached the same model state have the same future, so the pair (bitset of placed ops,
 *   model state) is cached and a path reaching a cached pair is cut. This keeps the search
 *   polynomial in practice for a few hundred operations per key with a handful of concurrent
 *   clients.
 * - **Indeterminate operations** (the connection dropped or the server died before the
 *   answer: it may or may not have taken effect, at any time after its invocation) get a
 *   completion at +∞. The search may then place them anywhere after their invocation — or
 *   last of all, where they affect nothing, which is the same as leaving them out. The model
 *   must therefore accept them in any state (a write always can; a conditional write whose
 *   condition fails simply changes nothing).
 * - **Definite failures** (the server answered an error that means "not applied", such as
 *   BADVERSION, NONODE or NODEEXISTS) are still observations: the condition that made them
 *   fail held at some point inside their interval. The model checks that. A failure that
 *   says nothing about the state (a malformed request, a throttled one) has no effect and no
 *   information: leave it out of the history.
 *
 * Pure TypeScript with no runtime imports: it runs in workerd (unit tests) and in Node (the
 * end-to-end fault test) alike.
 */

// ------------------------------------------------------------------ generic part

/** How an operation ended, as the client saw it. Times are from one monotonic clock. */
export type Outcome<O> =
  /** Answered successfully at `at` with `output`. */
  | { type: "ok"; at: number; output: O }
  /** Answered at `at` with an error meaning it was not applied (its condition did not hold). */
  | { type: "fail"; at: number }
  /** No answer (connection loss, server killed, timeout): may have taken effect, or not. */
  | { type: "indeterminate" };

/** One operation of a recorded history. */
export interface Operation<I, O> {
  /** The object operated on; objects are checked independently. */
  key: string;
  /** Who issued it (a client): only used to explain a failure. */
  process?: string | number;
  input: I;
  /** When it was invoked (before the request left the client). */
  invoke: number;
  outcome: Outcome<O>;
}

/** A sequential specification of one object. */
export interface Model<S, I, O> {
  /** The state of a key before its first operation. */
  init(key: string): S;
  /**
   * The state after `input` takes effect in `state` with this outcome, or undefined if the
   * outcome is impossible in that state. For an indeterminate outcome it must never be
   * undefined (the operation may have found any state).
   */
  step(state: S, input: I, outcome: Outcome<O>): S | undefined;
  /** A string that is equal for equal states (the memoization key). */
  hash(state: S): string;
  /** Human-readable forms, for explanations. */
  describeState?(state: S): string;
  describeOp?(input: I, outcome: Outcome<O>): string;
}

export interface CheckOptions {
  /**
   * Give up on a key after this many search steps (the verdict is then `unknown`, which is
   * not a pass). Real histories of a few hundred ops per key need far fewer.
   */
  maxSteps?: number;
}

/** What went wrong on the first key that is not linearizable. */
export interface Violation<S, I, O> {
  key: string;
  /**
   * The longest sequence of operations the search managed to linearize, in order (longest in
   * operations with a known outcome: placing indeterminate ones proves nothing).
   */
  longestPrefix: Operation<I, O>[];
  /** The model state after that prefix. */
  state: S;
  /**
   * An operation that had to take effect next (its completion was reached) but could not:
   * its outcome is impossible in `state`, and so is every other candidate's.
   */
  stuck: Operation<I, O>;
  /** Operations that could have been placed instead at that point (all of them failed too). */
  candidates: Operation<I, O>[];
  /** A few lines saying all of the above. */
  explanation: string;
}

export type Verdict<S, I, O> =
  | { ok: true; keys: number; operations: number; steps: number }
  | { ok: false; unknown: false; violation: Violation<S, I, O>; explanation: string }
  | { ok: false; unknown: true; key: string; explanation: string };

/** A node of the Wing–Gong event list: a call (with its matching return) or a return. */
interface Entry {
  /** Index of the operation in the key's sub-history. */
  op: number;
  call: boolean;
  /** For a call: its return entry. */
  match: Entry | undefined;
  time: number;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** A fixed-size bitset of placed operations; `keyWith` builds the memo key without copying. */
class Bitset {
  private readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(size / 32)));
  }
  set(i: number): void {
    this.words[i >>> 5] |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5] &= ~(1 << (i & 31));
  }
  /**
   * The set with bit i also set, as a string. Operations are placed roughly in time order,
   * so the set is mostly a run of full words, a short ragged frontier and then zeros: the
   * key is the run's length and the frontier only, which keeps it short for long histories.
   */
  keyWith(i: number): string {
    const words = this.words;
    const w = i >>> 5;
    const bit = (1 << (i & 31)) >>> 0;
    const at = (k: number) => (k === w ? (words[k] | bit) >>> 0 : words[k]);
    let full = 0;
    while (full < words.length && at(full) === 0xffffffff) full++;
    let end = words.length;
    while (end > full && at(end - 1) === 0) end--;
    let s = full.toString(36) + ":";
    for (let k = full; k < end; k++) s += at(k).toString(36) + ",";
    return s;
  }
}

const completion = (o: Outcome<unknown>): number => (o.type === "indeterminate" ? Infinity : o.at);

/** Checks one key's operations; `ops` all have the same key. */
function checkKey<S, I, O>(
  key: string,
  ops: Operation<I, O>[],
  model: Model<S, I, O>,
  maxSteps: number,
): { ok: true; steps: number } | { ok: false; unknown: boolean; violation?: Violation<S, I, O>; steps: number } {
  // Lay out the events in time order. At equal times calls come first: two operations that
  // touch at one instant are treated as concurrent, the permissive (never a false alarm) side.
  const events: Entry[] = [];
  ops.forEach((o, i) => {
    const end = completion(o.outcome);
    if (!(end >= o.invoke)) throw new Error(`operation ${i} on ${key} completes (${end}) before it is invoked (${o.invoke})`);
    const ret: Entry = { op: i, call: false, match: undefined, time: end, prev: undefined, next: undefined };
    const call: Entry = { op: i, call: true, match: ret, time: o.invoke, prev: undefined, next: undefined };
    events.push(call, ret);
  });
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const head: Entry = { op: -1, call: false, match: undefined, time: -Infinity, prev: undefined, next: undefined };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }

  // Removes a call and its return from the list (the operation is placed) and puts them back.
  const lift = (call: Entry) => {
    call.prev!.next = call.next;
    call.next!.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Entry) => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    call.next!.prev = call;
  };

  const placed = new Bitset(ops.length);
  const seen = new Set<string>();
  const stack: Array<{ entry: Entry; state: S }> = [];
  let state = model.init(key);
  let entry = head.next;
  let steps = 0;
  // The deepest point the search reached, for the explanation: the most operations with a
  // known outcome placed (then the fewest indeterminate ones, which prove nothing).
  let best: { prefix: number[]; state: S; stuck: number; candidates: number[]; score: number } | undefined;
  const known = ops.map((o) => o.outcome.type !== "indeterminate");
  let placedKnown = 0;

  while (head.next) {
    if (++steps > maxSteps) return { ok: false, unknown: true, steps };
    if (!entry) throw new Error("linearizability: ran off the event list"); // cannot happen: a return always follows
    if (entry.call) {
      const op = ops[entry.op];
      const next = model.step(state, op.input, op.outcome);
      if (next !== undefined) {
        const memo = placed.keyWith(entry.op) + "|" + model.hash(next);
        if (!seen.has(memo)) {
          seen.add(memo);
          stack.push({ entry, state });
          state = next;
          placed.set(entry.op);
          if (known[entry.op]) placedKnown++;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // A completion: the operation it belongs to must have taken effect by now, and no
      // candidate before it could be placed. Remember the deepest such dead end, then backtrack.
      const score = placedKnown * (ops.length + 1) - (stack.length - placedKnown);
      if (!best || score > best.score) {
        const candidates: number[] = [];
        for (let e: Entry | undefined = head.next; e && e !== entry; e = e.next) if (e.call && e.op !== entry.op) candidates.push(e.op);
        best = { prefix: stack.map((s) => s.entry.op), state, stuck: entry.op, candidates, score };
      }
      const top = stack.pop();
      if (!top) {
        const b = best!;
        const violation = explain(key, ops, model, b);
        return { ok: false, unknown: false, violation, steps };
      }
      state = top.state;
      placed.clear(top.entry.op);
      if (known[top.entry.op]) placedKnown--;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { ok: true, steps };
}

function explain<S, I, O>(
  key: string,
  ops: Operation<I, O>[],
  model: Model<S, I, O>,
  b: { prefix: number[]; state: S; stuck: number; candidates: number[] },
): Violation<S, I, O> {
  const show = (i: number) => describeOperation(model, ops[i], i);
  const showState = (s: S) => (model.describeState ? model.describeState(s) : model.hash(s));
  const MAX_LINES = 12;
  const prefix = b.prefix.length > MAX_LINES ? [`… ${b.prefix.length - MAX_LINES} earlier operations`, ...b.prefix.slice(-MAX_LINES).map(show)] : b.prefix.map(show);
  const lines = [
    `key ${key}: not linearizable.`,
    `The longest linearizable prefix has ${b.prefix.length} of ${ops.length} operations${b.prefix.length ? ", ending with" : ""}:`,
    ...prefix.map((l) => "  " + l),
    `leaving the state ${showState(b.state)}. Next, this operation must take effect (it completed) but cannot:`,
    "  " + show(b.stuck),
  ];
  if (b.candidates.length > 0) lines.push("and neither can any operation concurrent with it:", ...b.candidates.slice(0, MAX_LINES).map((i) => "  " + show(i)));
  return {
    key,
    longestPrefix: b.prefix.map((i) => ops[i]),
    state: b.state,
    stuck: ops[b.stuck],
    candidates: b.candidates.map((i) => ops[i]),
    explanation: lines.join("\n"),
  };
}

const fmt = (t: number) => (Number.isFinite(t) ? t.toFixed(1) : "∞");

function describeOperation<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>, index: number): string {
  const what = model.describeOp ? model.describeOp(op.input, op.outcome) : `${JSON.stringify(op.input)} → ${JSON.stringify(op.outcome)}`;
  const who = op.process === undefined ? "" : ` by ${op.process}`;
  return `#${index}${who} ${what} [${fmt(op.invoke)} … ${fmt(completion(op.outcome))}]`;
}

/**
 * Checks a history against a model, each key on its own. Returns the first violation found
 * (keys in the order they first appear), or a pass.
 */
export function checkLinearizable<S, I, O>(history: readonly Operation<I, O>[], model: Model<S, I, O>, options: CheckOptions = {}): Verdict<S, I, O> {
  const maxSteps = options.maxSteps ?? 10_000_000;
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  let steps = 0;
  for (const [key, ops] of byKey) {
    const r = checkKey(key, ops, model, maxSteps);
    steps += r.steps;
    if (r.ok) continue;
    if (r.unknown || !r.violation)
      return { ok: false, unknown: true, key, explanation: `key ${key}: gave up after ${maxSteps} search steps over ${ops.length} operations (no verdict)` };
    return { ok: false, unknown: false, violation: r.violation, explanation: r.violation.explanation };
  }
  return { ok: true, keys: byKey.size, operations: history.length, steps };
}

// ------------------------------------------------------------------ registers (znodes)

/**
 * A znode as a register: its data (a string; null when the node does not exist) and its
 * version (ZooKeeper's: 0 at create, +1 per setData). Checking versions as well as values
 * catches a write applied twice even when no read saw its value twice.
 */
export interface RegisterState {
  value: string | null;
  version: number;
}

export type RegisterInput =
  /** setData with version −1. ok: `{ version }` (the new one) if known; fail: the node did not exist (NONODE). */
  | { f: "write"; value: string }
  /** setData with a version. ok: `{ version }` if known; fail: wrong version (BADVERSION) or no node (NONODE). */
  | { f: "cas"; expectedVersion: number; value: string }
  /** create. ok: `{ version: 0 }` if known; fail: the node already existed (NODEEXISTS). */
  | { f: "create"; value: string }
  /** getData (or exists). ok: `{ value }` (null: no node) and `version` if known. */
  | { f: "read" };

export interface RegisterOutput {
  value?: string | null;
  version?: number;
}

export type RegisterOp = Operation<RegisterInput, RegisterOutput>;

/** The register model, with each key's initial state (default: the node does not exist). */
export function registerModel(initial: (key: string) => RegisterState = () => ({ value: null, version: -1 })): Model<RegisterState, RegisterInput, RegisterOutput> {
  const versionMatches = (o: Outcome<RegisterOutput>, v: number) => o.type !== "ok" || o.output.version === undefined || o.output.version === v;
  return {
    init: (key) => ({ ...initial(key) }),
    step(s, input, o) {
      const exists = s.value !== null;
      switch (input.f) {
        case "read":
          if (o.type !== "ok") return s; // a read that failed or got no answer tells nothing
          if (o.output.value !== undefined && o.output.value !== s.value) return undefined;
          return versionMatches(o, s.version) ? s : undefined;
        case "write": {
          const applies = exists;
          if (o.type === "indeterminate") return applies ? { value: input.value, version: s.version + 1 } : s;
          if (o.type === "fail") return applies ? undefined : s;
          if (!applies || !versionMatches(o, s.version + 1)) return undefined;
          return { value: input.value, version: s.version + 1 };
        }
        case "cas": {
          const applies = exists && s.version === input.expectedVersion;
          if (o.type === "indeterminate") return applies ? { value: input.value, version: s.version + 1 } : s;
          if (o.type === "fail") return applies ? undefined : s;
          if (!applies || !versionMatches(o, s.version + 1)) return undefined;
          return { value: input.value, version: s.version + 1 };
        }
        case "create": {
          const applies = !exists;
          if (o.type === "indeterminate") return applies ? { value: input.value, version: 0 } : s;
          if (o.type === "fail") return applies ? undefined : s;
          if (!applies || !versionMatches(o, 0)) return undefined;
          return { value: input.value, version: 0 };
        }
      }
    },
    hash: (s) => `${s.version}:${s.value === null ? "∅" : JSON.stringify(s.value)}`,
    describeState: (s) => (s.value === null ? "(no node)" : `${JSON.stringify(s.value)} v${s.version}`),
    describeOp(input, o) {
      const call =
        input.f === "read"
          ? "read"
          : input.f === "cas"
            ? `cas(v${input.expectedVersion} → ${JSON.stringify(input.value)})`
            : `${input.f}(${JSON.stringify(input.value)})`;
      if (o.type === "indeterminate") return `${call} → ? (indeterminate)`;
      if (o.type === "fail") return `${call} → failed`;
      const out = o.output;
      const parts: string[] = [];
      if (out.value !== undefined) parts.push(out.value === null ? "(no node)" : JSON.stringify(out.value));
      if (out.version !== undefined) parts.push(`v${out.version}`);
      return `${call} → ok${parts.length ? " " + parts.join(" ") : ""}`;
    },
  };
}

/** `checkLinearizable` with the register model. */
export function checkRegisters(
  history: readonly RegisterOp[],
  initial?: (key: string) => RegisterState,
  options?: CheckOptions,
): Verdict<RegisterState, RegisterInput, RegisterOutput> {
  return checkLinearizable(history, registerModel(initial), options);
}
