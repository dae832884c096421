// JSON lines, one per event: decisions to stdout, every problem to stderr. Each line names the agent
// and the loop phase, so the lines of 500 agents can be merged and still read.
export type Phase = 'start' | 'perceive' | 'decide' | 'act' | 'reflect' | 'stop';

export interface LogSink {
  write(line: string): unknown;
}

export interface StructuredLogOptions {
  agent: string;
  stdout?: LogSink;
  stderr?: LogSink;
  now?: () => Date;
}

export class StructuredLog {
  private readonly stdout: LogSink;
  private readonly stderr: LogSink;
  private readonly now: () => Date;

  constructor(private readonly options: StructuredLogOptions) {
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.now = options.now ?? (() => new Date());
  }

  info(phase: Phase, fields: Record<string, unknown> = {}): void {
    this.stdout.write(this.line('info', phase, fields));
  }

  /** A problem the agent handles itself (an action the server refused). */
  warn(phase: Phase, message: string, fields: Record<string, unknown> = {}): void {
    this.stderr.write(this.line('warn', phase, { message, ...fields }));
  }

  error(phase: Phase, message: string, fields: Record<string, unknown> = {}): void {
    this.stderr.write(this.line('error', phase, { message, ...fields }));
  }

  private line(level: string, phase: Phase, fields: Record<string, unknown>): string {
    return `${JSON.stringify({ level, time: this.now().toISOString(), agent: this.options.agent, phase, ...fields })}\n`;
  }
}
