/**
 * ZooKeeper's error codes, with the numbers ZooKeeper 3.8 gives them
 * (org.apache.zookeeper.KeeperException.Code). Every error edgekeeper reports carries one.
 */
export const Code = {
  OK: 0,
  SYSTEMERROR: -1,
  RUNTIMEINCONSISTENCY: -2,
  DATAINCONSISTENCY: -3,
  CONNECTIONLOSS: -4,
  MARSHALLINGERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATIONTIMEOUT: -7,
  BADARGUMENTS: -8,
  NEWCONFIGNOQUORUM: -13,
  RECONFIGINPROGRESS: -14,
  UNKNOWNSESSION: -12,
  APIERROR: -100,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NOCHILDRENFOREPHEMERALS: -108,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  INVALIDCALLBACK: -113,
  INVALIDACL: -114,
  AUTHFAILED: -115,
  SESSIONMOVED: -118,
  NOTREADONLY: -119,
  EPHEMERALONLOCALSESSION: -120,
  NOWATCHER: -121,
  REQUESTTIMEOUT: -122,
  RECONFIGDISABLED: -123,
  SESSIONCLOSEDREQUIRESASLAUTH: -124,
  QUOTAEXCEEDED: -125,
  THROTTLEDOP: -127,
} as const;

export type CodeName = keyof typeof Code;
export type CodeNumber = (typeof Code)[CodeName];

const names = new Map<number, CodeName>(
  Object.entries(Code).map(([name, num]) => [num, name as CodeName]),
);

/** The name of a numeric code, e.g. -101 → "NONODE". */
export function codeName(code: number): CodeName | "UNKNOWN" {
  return names.get(code) ?? "UNKNOWN";
}

/** An operation failed with a ZooKeeper code. Thrown inside the core, caught at its edge. */
export class ZkError extends Error {
  constructor(
    readonly code: CodeNumber,
    message: string,
  ) {
    super(message);
    this.name = `ZkError(${codeName(code)})`;
  }
}

export const fail = (code: CodeNumber, message: string): never => {
  throw new ZkError(code, message);
};
