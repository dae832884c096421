// Files in the workspace: read (a slice, capped), write (create or append, making directories), and
// list (one directory, capped). Paths are relative to the workspace or absolute inside it; anything
// that resolves outside, symlinks included, is refused.
import { open, readdir, stat, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { describeError, failed, type Tool, type ToolResult } from './tool.js';
import { Workspace, WorkspaceError } from './workspace.js';

export const FILE_LIMITS = {
  defaultReadBytes: 64 * 1024,
  maxReadBytes: 256 * 1024,
  /** Characters (UTF-8 text) or base64 characters of one write. */
  maxWriteChars: 1024 * 1024,
  listEntries: 500,
} as const;

const path = z.string().min(1, 'path must not be empty').max(1024, 'path must be at most 1024 characters');

export const FileInputSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('read'),
    path,
    /** Start at this byte. */
    offset: z.number().int().nonnegative().optional(),
    maxBytes: z.number().int().positive().max(FILE_LIMITS.maxReadBytes).optional(),
  }),
  z.strictObject({
    op: z.literal('write'),
    path,
    content: z
      .string()
      .max(FILE_LIMITS.maxWriteChars, `content must be at most ${FILE_LIMITS.maxWriteChars} characters`),
    append: z.boolean().optional(),
    encoding: z.enum(['utf8', 'base64']).optional(),
  }),
  z.strictObject({ op: z.literal('list'), path: path.optional() }),
]);
export type FileInput = z.output<typeof FileInputSchema>;

export class FileTool implements Tool<typeof FileInputSchema> {
  readonly name = 'file' as const;
  readonly input = FileInputSchema;

  constructor(private readonly workspace: Workspace) {}

  action(input: FileInput): string {
    return input.op;
  }

  async run(input: FileInput): Promise<ToolResult> {
    try {
      switch (input.op) {
        case 'read':
          return await this.read(input.path, input.offset ?? 0, input.maxBytes ?? FILE_LIMITS.defaultReadBytes);
        case 'write':
          return await this.write(input.path, input.content, input.append ?? false, input.encoding ?? 'utf8');
        case 'list':
          return await this.list(input.path ?? '.');
      }
    } catch (error) {
      return failed(error instanceof WorkspaceError ? error.message : `${input.op} ${describeError(error)}`);
    }
  }

  private async read(path: string, offset: number, maxBytes: number): Promise<ToolResult> {
    const real = await this.workspace.existing(path);
    const info = await stat(real);
    if (info.isDirectory()) return failed(`${path}: is a directory (use op "list")`);
    const handle = await open(real, 'r');
    try {
      const buffer = Buffer.alloc(Math.max(0, Math.min(maxBytes, info.size - offset)));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      const bytes = buffer.subarray(0, bytesRead);
      const rest = Math.max(0, info.size - offset - bytesRead);
      const data = { path: await this.workspace.display(real), size: info.size, offset, bytes: bytesRead };
      if (bytes.subarray(0, 8000).includes(0)) {
        return { ok: true, output: `(binary file, ${info.size} bytes)`, data };
      }
      const note = rest > 0 ? `\n[… ${rest} more bytes; read again with offset ${offset + bytesRead}]` : '';
      return { ok: true, output: bytes.toString('utf8') + note, truncated: rest > 0, data };
    } finally {
      await handle.close();
    }
  }

  private async write(
    path: string,
    content: string,
    append: boolean,
    encoding: 'utf8' | 'base64',
  ): Promise<ToolResult> {
    const target = await this.workspace.forWrite(path);
    const bytes = Buffer.from(content, encoding);
    await (append ? appendFile(target, bytes) : writeFile(target, bytes));
    const shown = await this.workspace.display(target);
    return {
      ok: true,
      output: `${append ? 'appended' : 'wrote'} ${bytes.length} bytes to ${shown}`,
      data: { path: shown, bytes: bytes.length },
    };
  }

  private async list(path: string): Promise<ToolResult> {
    const real = await this.workspace.directory(path);
    const entries = await readdir(real, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const shown = entries.slice(0, FILE_LIMITS.listEntries);
    const lines = await Promise.all(
      shown.map(async (entry) => {
        if (entry.isDirectory()) return `${entry.name}/`;
        if (entry.isSymbolicLink()) return `${entry.name} -> (link)`;
        const size = await stat(join(real, entry.name)).then(
          (info) => info.size,
          () => 0,
        );
        return `${entry.name} ${size}`;
      }),
    );
    const more = entries.length - shown.length;
    if (more > 0) lines.push(`[… ${more} more entries]`);
    return {
      ok: true,
      output: lines.join('\n') || '(empty)',
      truncated: more > 0,
      data: { path: await this.workspace.display(real), entries: entries.length },
    };
  }
}
