import { Code, ZkError } from "./errors.js";

/**
 * ZooKeeper's seven create modes (org.apache.zookeeper.CreateMode), by their wire flags.
 */
export const CreateMode = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
  CONTAINER: 4,
  PERSISTENT_WITH_TTL: 5,
  PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
} as const;
export type CreateMode = (typeof CreateMode)[keyof typeof CreateMode];

export const isSequential = (m: CreateMode) =>
  m === CreateMode.PERSISTENT_SEQUENTIAL || m === CreateMode.EPHEMERAL_SEQUENTIAL || m === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
export const isEphemeral = (m: CreateMode) => m === CreateMode.EPHEMERAL || m === CreateMode.EPHEMERAL_SEQUENTIAL;
export const isTtl = (m: CreateMode) => m === CreateMode.PERSISTENT_WITH_TTL || m === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
export const isContainer = (m: CreateMode) => m === CreateMode.CONTAINER;

/**
 * ZooKeeper's EphemeralType.TTL upper bound: the TTL fits in 40 bits. (ZooKeeper encodes the
 * TTL and the container marker into ephemeralOwner internally, but shows clients 0 for both;
 * edgekeeper keeps mode and TTL in their own columns and shows the same 0.)
 */
export const MAX_TTL_MS = 0xff_ffff_ffff;

/** Checks a (mode, ttl) pair the way PrepRequestProcessor.validateCreateRequest does. */
export function validateTtl(mode: CreateMode, ttl: number | undefined, ttlEnabled: boolean): void {
  if (isTtl(mode)) {
    if (!ttlEnabled) throw new ZkError(Code.UNIMPLEMENTED, "TTL nodes are disabled on this server");
    if (ttl === undefined || !Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TTL_MS)
      throw new ZkError(Code.BADARGUMENTS, `ttl must be an integer in 1..${MAX_TTL_MS} for TTL modes`);
  } else if (ttl !== undefined && ttl !== -1 && ttl !== 0) {
    throw new ZkError(Code.BADARGUMENTS, "ttl is only allowed with the TTL create modes");
  }
}
