import { Code } from "../../core/errors.js";

/**
 * HTTP status for a ZooKeeper error code (docs/http.md, "Errors"). The body always carries the
 * code too: `{"err": -101, "code": "NONODE", "message": "…"}`.
 */
const STATUS: Partial<Record<number, number>> = {
  [Code.NONODE]: 404,
  [Code.NOWATCHER]: 404,
  [Code.NODEEXISTS]: 409,
  [Code.NOTEMPTY]: 409,
  [Code.BADVERSION]: 412,
  [Code.BADARGUMENTS]: 400,
  [Code.MARSHALLINGERROR]: 400,
  [Code.INVALIDACL]: 400,
  [Code.NOCHILDRENFOREPHEMERALS]: 400,
  [Code.AUTHFAILED]: 401,
  [Code.NOAUTH]: 403,
  [Code.SESSIONEXPIRED]: 410,
  [Code.UNKNOWNSESSION]: 410,
  // A lock, permit or leadership not granted within `wait`.
  [Code.OPERATIONTIMEOUT]: 423,
  [Code.THROTTLEDOP]: 429,
  [Code.QUOTAEXCEEDED]: 429,
  [Code.UNIMPLEMENTED]: 501,
  [Code.CONNECTIONLOSS]: 503,
  [Code.SYSTEMERROR]: 500,
};

export function httpStatus(code: number): number {
  return STATUS[code] ?? 500;
}

/** Every code the mapping names, with its status (for the OpenAPI document and docs). */
export const STATUS_TABLE: ReadonlyArray<[number, number]> = Object.entries(STATUS).map(([c, s]) => [Number(c), s!]);
