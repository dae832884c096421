// Runs nvidia-smi through execFile, with a time limit and a cap on what it may print, and says plainly
// how it went: its output, no GPU on the node, or why there is nothing (hung, missing, the driver's
// error, an exit code). It never throws: the reporter decides what a failure means for a sample.
import { execFile, type ExecFileException } from 'node:child_process';
import { COMPUTE_APP_QUERY_FIELDS, GPU_QUERY_FIELDS } from './nvidia-smi-parse.js';

export const GPU_QUERY_ARGS = [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
export const COMPUTE_APPS_ARGS = [
  `--query-compute-apps=${COMPUTE_APP_QUERY_FIELDS.join(',')}`,
  '--format=csv,noheader,nounits',
];
export const LIST_ARGS = ['-L'];

export type SmiFailure =
  /** It did not finish in time (killed). */
  | 'timeout'
  /** There is no nvidia-smi at the configured path or on PATH. */
  | 'missing'
  /** The driver is not loaded or does not answer (exit 9, "couldn't communicate with the NVIDIA driver"). */
  | 'driver'
  /** It printed more than the cap (killed). */
  | 'too-much-output'
  /** Any other failure: an exit code and what it printed. */
  | 'failed';

export type SmiRun =
  | { ok: true; stdout: string }
  /** "No devices were found": a node without GPUs (or whose GPUs the driver does not see). */
  | { ok: true; noDevices: true; stdout: '' }
  | { ok: false; failure: SmiFailure; message: string; exitCode: number | null };

export interface NvidiaSmiOptions {
  /** The program: a path, or a name looked up on PATH (default `nvidia-smi`). */
  path?: string;
  timeoutMs?: number;
  /** The most it may print, in bytes. */
  maxBuffer?: number;
}

/** Exit code nvidia-smi uses when the driver is not loaded. */
const EXIT_DRIVER_NOT_LOADED = 9;
const DRIVER_ERROR =
  /couldn't communicate with the NVIDIA driver|NVIDIA driver is not loaded|Driver\/library version mismatch/i;
const NO_DEVICES = /^\s*No devices were found\s*$/im;
/** After the time limit, how long the run may take to be reaped before we stop waiting for it. */
const REAP_GRACE_MS = 1_000;

export class NvidiaSmi {
  readonly path: string;
  readonly timeoutMs: number;
  readonly maxBuffer: number;

  constructor(options: NvidiaSmiOptions = {}) {
    this.path = options.path ?? 'nvidia-smi';
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxBuffer = options.maxBuffer ?? 1024 * 1024;
  }

  gpus(): Promise<SmiRun> {
    return this.run(GPU_QUERY_ARGS);
  }

  computeApps(): Promise<SmiRun> {
    return this.run(COMPUTE_APPS_ARGS);
  }

  list(): Promise<SmiRun> {
    return this.run(LIST_ARGS);
  }

  run(args: string[]): Promise<SmiRun> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: SmiRun) => {
        if (settled) return;
        settled = true;
        clearTimeout(backstop);
        resolve(result);
      };
      // execFile waits for the output pipes to close; something the program left running may hold them
      // open after it was killed. Do not wait for that.
      const backstop = setTimeout(
        () =>
          settle({
            ok: false,
            failure: 'timeout',
            message: `${this.path} did not finish within ${this.timeoutMs} ms`,
            exitCode: null,
          }),
        this.timeoutMs + REAP_GRACE_MS,
      );
      execFile(
        this.path,
        args,
        {
          timeout: this.timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: this.maxBuffer,
          encoding: 'utf8',
          windowsHide: true,
          // nvidia-smi's messages are English and its numbers plain only in the C locale.
          env: { ...process.env, LC_ALL: 'C' },
        },
        (error, stdout, stderr) => {
          if (!error)
            return settle(NO_DEVICES.test(stdout) ? { ok: true, noDevices: true, stdout: '' } : { ok: true, stdout });
          settle(this.failure(error, stdout, stderr));
        },
      );
    });
  }

  private failure(error: ExecFileException, stdout: string, stderr: string): SmiRun {
    const printed = `${stdout}\n${stderr}`.trim();
    const exitCode = typeof error.code === 'number' ? error.code : null;
    if (error.code === 'ENOENT') {
      return { ok: false, failure: 'missing', message: `${this.path} is not there (${error.message})`, exitCode };
    }
    if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
      return {
        ok: false,
        failure: 'too-much-output',
        message: `${this.path} printed more than ${this.maxBuffer} bytes`,
        exitCode,
      };
    }
    if (error.killed || error.signal === 'SIGKILL') {
      return {
        ok: false,
        failure: 'timeout',
        message: `${this.path} did not finish within ${this.timeoutMs} ms`,
        exitCode,
      };
    }
    if (NO_DEVICES.test(printed)) return { ok: true, noDevices: true, stdout: '' };
    if (exitCode === EXIT_DRIVER_NOT_LOADED || DRIVER_ERROR.test(printed)) {
      return { ok: false, failure: 'driver', message: firstLines(printed) || `exit ${exitCode}`, exitCode };
    }
    return {
      ok: false,
      failure: 'failed',
      message: `${this.path} ${exitCode === null ? `failed (${error.message})` : `exited ${exitCode}`}: ${firstLines(printed) || 'it printed nothing'}`,
      exitCode,
    };
  }
}

function firstLines(text: string): string {
  return text.split('\n').slice(0, 3).join(' ').trim().slice(0, 300);
}
