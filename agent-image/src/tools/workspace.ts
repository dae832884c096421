// The agent's workspace: the one directory its file tool may touch and its shell starts in. Every
// path is resolved against it and through `realpath`, so `..` and symlinks that lead out are refused
// like absolute paths elsewhere. This keeps the brain honest; the container is the real boundary
// (a shell can reach anything the container can).
import { mkdir, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

export class Workspace {
  private realRoot: Promise<string> | undefined;

  constructor(readonly root: string) {}

  /** The root's real path; created when missing (a fresh container's empty volume). */
  async ready(): Promise<string> {
    this.realRoot ??= (async () => {
      try {
        await mkdir(this.root, { recursive: true });
        return await realpath(this.root);
      } catch (error) {
        this.realRoot = undefined;
        throw new WorkspaceError(
          `the workspace ${this.root} cannot be used (${(error as NodeJS.ErrnoException).code ?? String(error)}); set VILLAGE_WORKSPACE`,
        );
      }
    })();
    return this.realRoot;
  }

  /** An existing file or directory inside the workspace, by its real path. */
  async existing(path: string): Promise<string> {
    const root = await this.ready();
    const wanted = this.lexical(path, root);
    let real: string;
    try {
      real = await realpath(wanted);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new WorkspaceError(`${path}: no such file or directory`);
      throw error;
    }
    this.inside(real, root, path);
    return real;
  }

  /** An existing directory inside the workspace (a command's cwd). */
  async directory(path: string): Promise<string> {
    const real = await this.existing(path);
    if (!(await stat(real)).isDirectory()) throw new WorkspaceError(`${path}: not a directory`);
    return real;
  }

  /**
   * A path to write: its deepest existing ancestor must be inside the workspace (by real path), and so
   * must the file itself when it exists (a symlink to outside is refused). Missing directories are made.
   */
  async forWrite(path: string): Promise<string> {
    const root = await this.ready();
    const wanted = this.lexical(path, root);
    let ancestor = dirname(wanted);
    for (;;) {
      try {
        const real = await realpath(ancestor);
        this.inside(real, root, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        ancestor = dirname(ancestor);
      }
    }
    try {
      this.inside(await realpath(wanted), root, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await mkdir(dirname(wanted), { recursive: true });
    // The directories just made are plain ones, but check the parent once more (a race with a symlink).
    this.inside(await realpath(dirname(wanted)), root, path);
    return wanted;
  }

  /** The path as the log and the brain see it: relative to the workspace. */
  async display(real: string): Promise<string> {
    const root = await this.ready();
    const inner = relative(root, real);
    return inner === '' ? '.' : inner;
  }

  private lexical(path: string, root: string): string {
    if (path.includes('\0')) throw new WorkspaceError('a path must not contain NUL');
    const wanted = isAbsolute(path) ? resolve(path) : resolve(root, path);
    // A path given as the configured (not yet real) root counts as the root.
    const configured = resolve(this.root);
    const mapped =
      wanted === configured || wanted.startsWith(configured + sep) ? root + wanted.slice(configured.length) : wanted;
    this.inside(mapped, root, path);
    return mapped;
  }

  private inside(real: string, root: string, asked: string): void {
    if (real === root || real.startsWith(root.endsWith(sep) ? root : root + sep)) return;
    throw new WorkspaceError(`${asked}: outside the workspace ${this.root} (refused)`);
  }
}
