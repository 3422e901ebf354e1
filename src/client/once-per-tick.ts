/**
 * Runs `fn` once after the current tick, however often it is asked to during the tick: how
 * the client gathers everything issued in one tick into one frame (connection.ts) and one
 * shared socket's channels into one message (shared-socket.ts).
 */
export class OncePerTick {
  private scheduled = false;

  constructor(private readonly fn: () => void) {}

  /** A run is scheduled and has not happened yet. */
  get pending(): boolean {
    return this.scheduled;
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.fn();
    });
  }
}
