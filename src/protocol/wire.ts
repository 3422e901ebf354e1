/**
 * The WebSocket wire's names and shapes, dependency-free so that the server, the Worker's
 * routes, the client and the CLI share one copy (docs/protocol.md §2 and §10,
 * docs/zookeeper-compat.md).
 */

/** One session per socket, JSON frames. */
export const SUBPROTOCOL = "edgekeeper.v1";
/** A shared socket: many sessions as channels, JSON frames in envelopes (§10). */
export const SHARED_SUBPROTOCOL = "edgekeeper.mux.v1";
/** ZooKeeper's binary protocol, one packet per binary message. */
export const ZK_SUBPROTOCOL = "zookeeper";

/** Channels with a session one shared socket may carry: their state must fit its 16 KiB attachment. */
export const MAX_CHANNELS = 200;

/** Which of our JSON subprotocols a client offered (a shared socket's first), if any. */
export function jsonSubprotocol(offered: readonly string[]): string | undefined {
  return offered.includes(SHARED_SUBPROTOCOL) ? SHARED_SUBPROTOCOL : offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : undefined;
}

/** A server message (or array of them, as JSON text) for channel `ch` of a shared socket. */
export const messageEnvelope = (ch: number, text: string): string => `{"ch":${ch},"m":${text}}`;

/** The server ends channel `ch` of a shared socket with a close code and reason. */
export const closeEnvelope = (ch: number, code: number, reason: string): string => `{"ch":${ch},"close":${JSON.stringify([code, reason])}}`;
