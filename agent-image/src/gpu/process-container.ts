// The driver names host PIDs; the container a PID runs in is in its cgroup path. Docker writes the
// container's 64-hex id into it whatever the layout: cgroup v1 (`4:memory:/docker/<id>`), v2 with the
// cgroupfs driver (`0::/docker/<id>`) or systemd (`0::/system.slice/docker-<id>.scope`), containerd and
// CRI-O under Kubernetes (`.../cri-containerd-<id>.scope`, `crio-<id>`), nested engines
// (`/docker/<outer>/docker/<inner>`: the innermost is the process's own container).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const CONTAINER_ID = /[0-9a-f]{64}/g;

/** The container id in a `/proc/<pid>/cgroup` text, or null for a process outside containers. */
export function containerIdFromCgroup(text: string): string | null {
  let found: string | null = null;
  for (const line of text.split('\n')) {
    // hierarchy-id:controllers:path; the path is what follows the second colon.
    const path = line.split(':').slice(2).join(':');
    const ids = path.match(CONTAINER_ID);
    if (!ids) continue;
    const innermost = ids[ids.length - 1]!;
    // The unified hierarchy (0::) is the process's own; otherwise every controller names the same one.
    if (line.startsWith('0::')) return innermost;
    found ??= innermost;
  }
  return found;
}

/** The container of a host PID, read from `<procRoot>/<pid>/cgroup`; null outside containers or when it is gone. */
export async function containerOfPid(pid: number, procRoot = '/proc'): Promise<string | null> {
  try {
    return containerIdFromCgroup(await readFile(join(procRoot, String(pid), 'cgroup'), 'utf8'));
  } catch (error) {
    // The process ended between nvidia-smi and now: it is nobody's any more.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') {
      return null;
    }
    throw error;
  }
}
