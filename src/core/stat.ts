/** ZooKeeper's Stat structure, as every read and write reports it. */
export interface Stat {
  czxid: number;
  mzxid: number;
  pzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  /** 16 hex digits: owning session, or ZooKeeper's container/TTL markers, or zeros. */
  ephemeralOwner: string;
  dataLength: number;
  numChildren: number;
}

/** The ephemeralOwner of a node nobody owns. */
export const NO_OWNER = "0000000000000000";
