/**
 * A one-line progress display on stderr: redrawn in place on a terminal, a line every few
 * seconds otherwise (CI logs).
 */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private step = 0;
  private label = "";
  private lastPlain = 0;
  private readonly t0 = performance.now();
  private drawn = false;

  constructor(private readonly steps: number) {}

  /** Starts the next step (one workload on one system). */
  begin(label: string): void {
    this.step++;
    this.label = label;
    this.lastPlain = 0;
    this.update(0, "");
  }

  /** Redraws the line: `fraction` of the current step done, plus a short detail. */
  update(fraction: number, detail: string): void {
    const f = Math.max(0, Math.min(1, fraction));
    const width = 20;
    const filled = Math.round(f * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const elapsed = Math.round((performance.now() - this.t0) / 1000);
    const line = `[${String(this.step).padStart(2)}/${this.steps}] ${elapsed}s ${this.label} [${bar}] ${Math.round(f * 100)}% ${detail}`;
    if (this.tty) {
      const cols = process.stderr.columns || 120;
      process.stderr.write(`\r\x1b[K${line.slice(0, cols - 1)}`);
      this.drawn = true;
    } else {
      const now = performance.now();
      if (this.lastPlain === 0 || now - this.lastPlain > 5000) {
        this.lastPlain = now;
        process.stderr.write(line + "\n");
      }
    }
  }

  /** Prints a message on its own line (the progress line is redrawn by the next update). */
  log(message: string): void {
    if (this.tty && this.drawn) process.stderr.write("\r\x1b[K");
    this.drawn = false;
    process.stderr.write(message + "\n");
  }

  done(): void {
    if (this.tty && this.drawn) process.stderr.write("\r\x1b[K");
    this.drawn = false;
  }
}
