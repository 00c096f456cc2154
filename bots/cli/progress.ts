/**
 * Output for the CLI: permanent lines, plus on a terminal a live status line with a spinner that
 * is redrawn below them. When the output is piped, only the permanent lines are written.
 */
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export class ProgressPrinter {
  private activity: string | null = null;
  private frame = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly out: Output,
    private readonly isLive: boolean = out.isTTY === true,
  ) {}

  line(text: string): void {
    this.erase();
    this.out.write(`${text}\n`);
    this.draw();
  }

  /**
   * Shows what is running now; null hides the status line. `isSameStep` (a preview's percent)
   * keeps the step's clock running instead of starting it again.
   */
  status(activity: string | null, isSameStep = false): void {
    if (!this.isLive) return;
    this.erase();
    this.activity = activity;
    if (!isSameStep || this.startedAt === 0) this.startedAt = Date.now();
    if (activity !== null && this.timer === null) {
      this.timer = setInterval(() => {
        this.frame = (this.frame + 1) % FRAMES.length;
        this.erase();
        this.draw();
      }, 100);
      this.timer.unref();
    } else if (activity === null) {
      this.stop();
    }
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.erase();
    this.activity = null;
  }

  private draw(): void {
    if (!this.isLive || this.activity === null) return;
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    this.out.write(`${FRAMES[this.frame]} ${this.activity}… ${seconds}s`);
  }

  private erase(): void {
    if (this.isLive && this.activity !== null) this.out.write("\r\x1b[2K");
  }
}
