import type { ACL } from "../core/acl.js";
import type { Stat } from "../core/stat.js";
import { encodeBase64 } from "../protocol/base64.js";
import { toBytes, type Data } from "./data.js";
import type { CallOptions, CreateModeName } from "./client.js";

export type WireOp =
  | { op: "create"; path: string; data: string; mode: CreateModeName; acl?: ACL[]; ttl?: number }
  | { op: "delete"; path: string; version: number }
  | { op: "setData"; path: string; data: string; version: number }
  | { op: "check"; path: string; version: number };

export type MultiResult =
  | { op: "create"; path: string; stat: Stat }
  | { op: "delete" }
  | { op: "setData"; stat: Stat }
  | { op: "check" };

/** Collects ops for one atomic multi; `commit()` applies all of them or none. */
export class Transaction {
  readonly ops: WireOp[] = [];

  constructor(private readonly run: (ops: WireOp[], opts: CallOptions) => Promise<MultiResult[]>) {}

  create(path: string, data?: Data, opts: { mode?: CreateModeName; acl?: ACL[]; ttl?: number } = {}): this {
    this.ops.push({ op: "create", path, data: encodeBase64(toBytes(data)), mode: opts.mode ?? "persistent", acl: opts.acl, ttl: opts.ttl });
    return this;
  }
  delete(path: string, version = -1): this {
    this.ops.push({ op: "delete", path, version });
    return this;
  }
  setData(path: string, data: Data, version = -1): this {
    this.ops.push({ op: "setData", path, data: encodeBase64(toBytes(data)), version });
    return this;
  }
  check(path: string, version: number): this {
    this.ops.push({ op: "check", path, version });
    return this;
  }
  commit(opts: CallOptions = {}): Promise<MultiResult[]> {
    return this.run(this.ops, opts);
  }
}
