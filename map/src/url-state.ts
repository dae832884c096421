// What is selected lives in the URL hash, so a link shows someone else the same thing:
// `#agent=<id>` (that agent's card, followed) or `#tile=<x>,<y>` (that tile, highlighted), and beside
// either `post=<id>` (that thread open on the board), e.g. `#agent=ada&post=12`. Each part is written
// without touching the other.
import type { Position } from '@ai-village/control-plane/contract';

export type Selection = { kind: 'agent'; agentId: string } | { kind: 'tile'; tile: Position } | { kind: 'none' };

export function parseHash(hash: string): Selection {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const agentId = params.get('agent');
  if (agentId) return { kind: 'agent', agentId };
  const tile = /^(\d+),(\d+)$/.exec(params.get('tile')?.trim() ?? '');
  if (tile) return { kind: 'tile', tile: { x: Number(tile[1]), y: Number(tile[2]) } };
  return { kind: 'none' };
}

/** The board thread a `post=<id>` names, else null. */
export function parsePostId(hash: string): number | null {
  const id = new URLSearchParams(hash.replace(/^#/, '')).get('post')?.trim() ?? '';
  return /^[1-9]\d{0,15}$/.test(id) ? Number(id) : null;
}

export function formatHash(selection: Selection, postId: number | null = null): string {
  const parts: string[] = [];
  if (selection.kind === 'agent') parts.push(`agent=${encodeURIComponent(selection.agentId)}`);
  if (selection.kind === 'tile') parts.push(`tile=${selection.tile.x},${selection.tile.y}`);
  if (postId !== null) parts.push(`post=${postId}`);
  return parts.length > 0 ? `#${parts.join('&')}` : '';
}

/** Records a selection without adding a history entry (and without firing `hashchange`). */
export function writeHash(selection: Selection): void {
  replaceHash(formatHash(selection, parsePostId(window.location.hash)));
}

/** Records the open board thread (or none), keeping the selection. */
export function writePostId(postId: number | null): void {
  replaceHash(formatHash(parseHash(window.location.hash), postId));
}

function replaceHash(hash: string): void {
  if (hash === window.location.hash) return;
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, '', `${pathname}${search}${hash}`);
}

export function onHashChange(listener: (selection: Selection) => void): void {
  window.addEventListener('hashchange', () => listener(parseHash(window.location.hash)));
}

export function onPostHashChange(listener: (postId: number | null) => void): void {
  window.addEventListener('hashchange', () => listener(parsePostId(window.location.hash)));
}
