// A stream's output kept up to a byte cap: the rest is counted and thrown away (never buffered), so a
// command that prints gigabytes costs no memory, and the brain is told how much it did not see.
export class OutputCap {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private dropped = 0;

  constructor(readonly maxBytes: number) {}

  add(chunk: Buffer): void {
    const room = this.maxBytes - this.kept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.chunks.push(part);
      this.kept += part.length;
    }
    this.dropped += Math.max(0, chunk.length - Math.max(0, room));
  }

  get truncated(): boolean {
    return this.dropped > 0;
  }

  get totalBytes(): number {
    return this.kept + this.dropped;
  }

  /** The kept bytes as UTF-8, with a note when more was cut. */
  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `${text}\n[… output cut at ${this.maxBytes} bytes: ${this.dropped} more bytes]` : text;
  }
}
