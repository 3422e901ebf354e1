import type { Id } from "../core/acl.js";
import type { Rule } from "../core/contenders.js";
import type { Request } from "../core/requests.js";

/**
 * The contract between the HTTP routes (src/routes/http, in the edge Worker) and the
 * namespace's Durable Object (src/objects/http-api.ts), over typed RPC. The routes validate
 * every HTTP request into one of these calls; the object applies it to the core and answers
 * with a reply that the routes turn into an HTTP response. Everything here is structured-
 * cloneable (data travels as Uint8Array).
 */

/** A lease's credentials: the `Edgekeeper-Lease: <leaseId>.<secret>` header, parsed. */
export interface LeaseCredential {
  id: string;
  secret: string;
}

/** Who calls: the identities the request arrives with (its IP), and its lease if it names one. */
export interface Caller {
  identities: Id[];
  lease?: LeaseCredential;
  /** When the caller's token expires (ms): a stream it holds open ends then. */
  expiresAt?: number;
}

/** The core requests the node and multi routes send. */
export type NodeRequest = Extract<Request, { op: "create" | "delete" | "setData" | "getData" | "getChildren" | "exists" | "multi" }>;

export type ApiCall =
  | { op: "execute"; caller: Caller; request: NodeRequest }
  | { op: "lease.create"; caller: Caller; ttl: number }
  | { op: "lease.keepalive" | "lease.get" | "lease.revoke"; caller: Caller & { lease: LeaseCredential } }
  | {
      /** Lock acquire, semaphore acquire, election campaign: answered when granted (or not within `wait`). */
      op: "acquire";
      caller: Caller;
      rule: Rule;
      /** The recipe's base path. */
      path: string;
      /** TTL of the lease created for this grant when the caller names none (ms). */
      ttl: number;
      /** Longest wait for the grant (ms); 0 = try once. */
      wait: number;
      /** The contender node's data (an election's value); for locks and semaphores the object writes `{"owner", "kind": "http"}`. */
      data?: Uint8Array;
      /** Holder name for a lock or semaphore node's data (default: the lease id). */
      owner?: string;
      /** Idempotency-Key: the contender create's request id (per lease). */
      requestId?: string;
      /** Names the held call, so the route can withdraw it when its client goes away. */
      waiter: string;
    }
  | { op: "release" | "refresh"; caller: Caller & { lease: LeaseCredential }; rule: Rule; path: string; token: number }
  | { op: "proclaim"; caller: Caller & { lease: LeaseCredential }; path: string; token: number; data: Uint8Array }
  | { op: "leader"; caller: Caller; path: string }
  | {
      /** Long-poll watch: the events after `fromZxid`, waiting up to `timeout` ms for the first. */
      op: "poll";
      caller: Caller;
      path: string;
      recursive: boolean;
      fromZxid?: number;
      timeout: number;
      limit: number;
      waiter: string;
    };

/** Streams (Server-Sent Events): a watch from a zxid, or an election's leadership changes. */
export type ApiStreamCall =
  | { op: "watch"; caller: Caller; path: string; recursive: boolean; fromZxid?: number; heartbeatMs: number }
  | { op: "observe"; caller: Caller; path: string; heartbeatMs: number };

/** A resume from before the retained change log: the caller must re-read, then go on from `zxid`. */
export interface Resync {
  fromZxid: number;
  oldestZxid: number;
  zxid: number;
}

export interface ApiOk {
  ok: true;
  /** The namespace's zxid after the call (a write's own zxid). */
  zxid: number;
  result: Record<string, unknown>;
}

export interface ApiError {
  ok: false;
  zxid: number;
  /** ZooKeeper's numeric code and its name. */
  err: number;
  code: string;
  message: string;
  /** A failed multi's result vector. */
  results?: unknown[];
  resync?: Resync;
}

export type ApiReply = ApiOk | ApiError;

export type ApiStreamReply = { ok: true; zxid: number; stream: ReadableStream<Uint8Array> } | ApiError;

/** The RPC surface the object offers the routes. */
export interface ApiTarget {
  api(call: ApiCall): Promise<ApiReply>;
  apiStream(call: ApiStreamCall): Promise<ApiStreamReply>;
  /** The client of a held call went away: withdraw it (its contender node is deleted). */
  apiAbandon(waiter: string): Promise<void>;
}
