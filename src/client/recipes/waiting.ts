import type { EdgeKeeper } from "../client.js";
import { ClosedError, ConnectionLossError, SessionExpiredError } from "../errors.js";

/**
 * Waiting pieces shared by the blocking recipes (barriers, queue): a one-shot wake-up fed by
 * a watch, bounded by a deadline, an AbortSignal and the session's life, and a retry for
 * requests that may safely be sent again after a lost connection.
 */

/** The time (ms since epoch) at which a wait of `timeout` ms gives up; Infinity for none. */
export function deadlineOf(timeout?: number): number {
  return timeout === undefined || timeout < 0 || !Number.isFinite(timeout) ? Infinity : Date.now() + timeout;
}

const isFinal = (s: string) => s === "expired" || s === "closed" || s === "authFailed";

/** The error for a wait that can never end because the session is over. */
function sessionOver(zk: EdgeKeeper): Error {
  return zk.state === "expired" ? new SessionExpiredError("session expired while waiting") : new ClosedError(`client is ${zk.state}`);
}

/**
 * A one-shot wake-up: pass `trigger` as the watcher of a read, then `wait()` for it to fire.
 * A fresh Wakeup per check-then-wait round avoids missed wake-ups: the watch is set by the
 * same read that observed the state, so any later change fires it, even one that happens
 * before `wait()` is called. One-shot watches survive reconnects (the client re-registers
 * them and the server replays what they missed), so a wait needs no special reconnect code;
 * it does end when the session does, since then no watch can ever fire.
 */
export class Wakeup {
  private fired = false;
  private wake: (() => void) | undefined;
  readonly trigger = (): void => {
    this.fired = true;
    this.wake?.();
  };

  /** true once triggered; false if `deadline` passes first. Rejects on abort or session end. */
  wait(zk: EdgeKeeper, deadline = Infinity, signal?: AbortSignal): Promise<boolean> {
    if (this.fired) return Promise.resolve(true);
    if (signal?.aborted) return Promise.reject(signal.reason ?? new DOMException("aborted", "AbortError"));
    if (isFinal(zk.state)) return Promise.reject(sessionOver(zk));
    if (deadline <= Date.now()) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (result: boolean | Error) => {
        this.wake = undefined;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        offState();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const onAbort = () => finish(signal!.reason ?? new DOMException("aborted", "AbortError"));
      const offState = zk.onState((s) => {
        if (isFinal(s)) finish(sessionOver(zk));
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      if (deadline !== Infinity) timer = setTimeout(() => finish(false), deadline - Date.now());
      this.wake = () => finish(true);
    });
  }
}

/**
 * Runs `op`; if the connection drops with it in flight, waits for the client to reconnect and
 * runs it again. Only for requests whose repetition is harmless (reads, watches, deletes
 * whose NoNode the caller accepts). Gives up when the session ends.
 */
export async function retryOnLoss<T>(zk: EdgeKeeper, op: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await op();
    } catch (e) {
      if (!(e instanceof ConnectionLossError)) throw e;
      await zk.waitConnected();
    }
  }
}
