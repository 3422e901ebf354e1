import { Code, codeName, type CodeName } from "../core/errors.js";

/** Base class of every error the server reports: `code` is ZooKeeper's number. */
export class ZooKeeperError extends Error {
  override name = "ZooKeeperError";
  constructor(
    readonly code: number,
    message: string,
    /** For a failed multi: ZooKeeper's result vector. */
    readonly results?: unknown[],
  ) {
    super(message);
  }
  get codeName(): CodeName | "UNKNOWN" {
    return codeName(this.code);
  }
  /** True when the request may or may not have been applied (connection loss, timeout). */
  get outcomeUnknown(): boolean {
    return this.code === Code.CONNECTIONLOSS || this.code === Code.OPERATIONTIMEOUT;
  }
}

type ErrorClass = new (message?: string, results?: unknown[]) => ZooKeeperError;

/** One class per code, named explicitly so names survive minification. */
function errorClass(name: string, code: number, defaultMessage = name): ErrorClass {
  return class extends ZooKeeperError {
    override name = name;
    constructor(message = defaultMessage, results?: unknown[]) {
      super(code, message, results);
    }
  };
}

export const SystemError = errorClass("SystemError", Code.SYSTEMERROR);
export const RuntimeInconsistencyError = errorClass("RuntimeInconsistencyError", Code.RUNTIMEINCONSISTENCY);
/** The connection dropped with the request in flight: it may or may not have been applied. */
export const ConnectionLossError = errorClass("ConnectionLossError", Code.CONNECTIONLOSS, "connection lost; the request's outcome is unknown");
export const MarshallingError = errorClass("MarshallingError", Code.MARSHALLINGERROR);
export const UnimplementedError = errorClass("UnimplementedError", Code.UNIMPLEMENTED);
export const OperationTimeoutError = errorClass("OperationTimeoutError", Code.OPERATIONTIMEOUT, "request timed out; its outcome is unknown");
export const BadArgumentsError = errorClass("BadArgumentsError", Code.BADARGUMENTS);
export const NoNodeError = errorClass("NoNodeError", Code.NONODE);
export const NoAuthError = errorClass("NoAuthError", Code.NOAUTH);
export const BadVersionError = errorClass("BadVersionError", Code.BADVERSION);
export const NoChildrenForEphemeralsError = errorClass("NoChildrenForEphemeralsError", Code.NOCHILDRENFOREPHEMERALS);
export const NodeExistsError = errorClass("NodeExistsError", Code.NODEEXISTS);
export const NotEmptyError = errorClass("NotEmptyError", Code.NOTEMPTY);
export const SessionExpiredError = errorClass("SessionExpiredError", Code.SESSIONEXPIRED, "session expired");
export const InvalidAclError = errorClass("InvalidAclError", Code.INVALIDACL);
export const AuthFailedError = errorClass("AuthFailedError", Code.AUTHFAILED);
export const SessionMovedError = errorClass("SessionMovedError", Code.SESSIONMOVED);
export const NoWatcherError = errorClass("NoWatcherError", Code.NOWATCHER);
export const QuotaExceededError = errorClass("QuotaExceededError", Code.QUOTAEXCEEDED);
export const ThrottledOpError = errorClass("ThrottledOpError", Code.THROTTLEDOP);
/** The client was closed by its owner; nothing more can be sent. */
export const ClosedError = errorClass("ClosedError", Code.SESSIONEXPIRED, "the client is closed");

const byCode = new Map<number, ErrorClass>([
  [Code.SYSTEMERROR, SystemError],
  [Code.RUNTIMEINCONSISTENCY, RuntimeInconsistencyError],
  [Code.CONNECTIONLOSS, ConnectionLossError],
  [Code.MARSHALLINGERROR, MarshallingError],
  [Code.UNIMPLEMENTED, UnimplementedError],
  [Code.OPERATIONTIMEOUT, OperationTimeoutError],
  [Code.BADARGUMENTS, BadArgumentsError],
  [Code.NONODE, NoNodeError],
  [Code.NOAUTH, NoAuthError],
  [Code.BADVERSION, BadVersionError],
  [Code.NOCHILDRENFOREPHEMERALS, NoChildrenForEphemeralsError],
  [Code.NODEEXISTS, NodeExistsError],
  [Code.NOTEMPTY, NotEmptyError],
  [Code.SESSIONEXPIRED, SessionExpiredError],
  [Code.INVALIDACL, InvalidAclError],
  [Code.AUTHFAILED, AuthFailedError],
  [Code.SESSIONMOVED, SessionMovedError],
  [Code.NOWATCHER, NoWatcherError],
  [Code.QUOTAEXCEEDED, QuotaExceededError],
  [Code.THROTTLEDOP, ThrottledOpError],
]);

/** The typed error for a server error code. */
export function errorFor(code: number, message: string, results?: unknown[]): ZooKeeperError {
  const Cls = byCode.get(code);
  return Cls ? new Cls(message, results) : new ZooKeeperError(code, message, results);
}
