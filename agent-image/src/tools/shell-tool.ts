// The shell: one command through `bash -c` in the workspace (or a directory inside it), with extra
// environment, a time limit that kills the command and everything it started (its own process
// group), and stdout/stderr kept up to a byte cap. Nothing a command starts outlives the call.
import { spawn } from 'node:child_process';
import { z } from 'zod';
import { looksSecret } from '@ai-village/control-plane/contract';
import { OutputCap } from './output-cap.js';
import { describeError, failed, type Tool, type ToolResult } from './tool.js';
import { Workspace, WorkspaceError } from './workspace.js';

export const SHELL_LIMITS = {
  defaultTimeoutMs: 30_000,
  maxTimeoutMs: 10 * 60_000,
  stdoutBytes: 64 * 1024,
  stderrBytes: 16 * 1024,
  /** After SIGTERM at the deadline, SIGKILL this much later. */
  killGraceMs: 1000,
  envEntries: 50,
} as const;

export const ShellInputSchema = z.strictObject({
  command: z.string().min(1, 'command must not be empty').max(10_000, 'command must be at most 10000 characters'),
  /** A directory inside the workspace (relative to it, or absolute); the workspace itself by default. */
  cwd: z.string().max(1024).optional(),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'env names are letters, digits and _'),
      z.string().max(4096, 'env values must be at most 4096 characters'),
    )
    .refine(
      (env) => Object.keys(env).length <= SHELL_LIMITS.envEntries,
      `at most ${SHELL_LIMITS.envEntries} env entries`,
    )
    .optional(),
  timeoutMs: z
    .number()
    .int()
    .min(100, 'timeoutMs must be at least 100')
    .max(SHELL_LIMITS.maxTimeoutMs, `timeoutMs must be at most ${SHELL_LIMITS.maxTimeoutMs}`)
    .optional(),
});
export type ShellInput = z.output<typeof ShellInputSchema>;

export class ShellTool implements Tool<typeof ShellInputSchema> {
  readonly name = 'shell' as const;
  readonly input = ShellInputSchema;

  constructor(
    private readonly workspace: Workspace,
    /** The environment commands inherit (the runtime's, without its secrets). */
    private readonly baseEnv: NodeJS.ProcessEnv = commandEnvironment(process.env),
  ) {}

  action(): string {
    return 'run';
  }

  async run(input: ShellInput): Promise<ToolResult> {
    let cwd: string;
    try {
      cwd = await this.workspace.directory(input.cwd ?? '.');
    } catch (error) {
      return failed(error instanceof WorkspaceError ? error.message : describeError(error));
    }
    const display = await this.workspace.display(cwd);
    return runCommand(input, cwd, { ...this.baseEnv, ...input.env }).then((result) => ({ ...result, cwd: display }));
  }
}

/** The runtime's environment minus anything that looks secret (its own agent token above all). */
export function commandEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name, value]) => name !== 'VILLAGE_AGENT_TOKEN' && !looksSecret(name, value)),
  );
}

function runCommand(input: ShellInput, cwd: string, env: NodeJS.ProcessEnv): Promise<ToolResult> {
  const timeoutMs = input.timeoutMs ?? SHELL_LIMITS.defaultTimeoutMs;
  const stdout = new OutputCap(SHELL_LIMITS.stdoutBytes);
  const stderr = new OutputCap(SHELL_LIMITS.stderrBytes);
  return new Promise((resolvePromise) => {
    let child;
    try {
      // detached: the command leads its own process group, so the whole group can be killed.
      child = spawn('bash', ['-c', input.command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      resolvePromise(failed(`could not start bash: ${describeError(error)}`));
      return;
    }
    const group = child.pid;
    const killGroup = (signal: NodeJS.Signals) => {
      if (group === undefined) return;
      try {
        process.kill(-group, signal);
      } catch {
        // Already gone.
      }
    };
    let timedOut = false;
    let settled = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), SHELL_LIMITS.killGraceMs).unref();
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.add(chunk));

    const finish = (code: number | null, signal: NodeJS.Signals | null, startError?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      // Whatever the command left running in its group goes with it.
      killGroup('SIGKILL');
      const out = stdout.text();
      const err = stderr.text();
      const output = err ? `${out}${out && !out.endsWith('\n') ? '\n' : ''}[stderr]\n${err}` : out;
      const truncated = stdout.truncated || stderr.truncated;
      if (startError) {
        resolvePromise(failed(`could not start bash: ${describeError(startError)}`));
      } else if (timedOut) {
        resolvePromise({
          ok: false,
          output,
          truncated,
          exitCode: null,
          error: `timed out after ${timeoutMs} ms: the command and everything it started were killed`,
        });
      } else if (code === 0) {
        resolvePromise({ ok: true, output, truncated, exitCode: 0 });
      } else {
        resolvePromise({
          ok: false,
          output,
          truncated,
          exitCode: code,
          error: code === null ? `killed by ${signal ?? 'a signal'}` : `exited with code ${code}`,
        });
      }
    };
    child.once('error', (error) => finish(null, null, error));
    child.once('exit', (code, signal) => {
      // Let the pipes drain; a background process that kept them open is killed with the group.
      const drained = new Promise<void>((done) => child.once('close', () => done()));
      const timer = setTimeout(() => {
        killGroup('SIGKILL');
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, 200);
      void drained.then(() => {
        clearTimeout(timer);
        finish(code, signal);
      });
    });
  });
}
