// What is selected lives in the URL hash, so a link shows someone else the same thing:
// `#agent=<id>` (that agent's card, followed) or `#tile=<x>,<y>` (that tile, highlighted).
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

export function formatHash(selection: Selection): string {
  switch (selection.kind) {
    case 'agent':
      return `#agent=${encodeURIComponent(selection.agentId)}`;
    case 'tile':
      return `#tile=${selection.tile.x},${selection.tile.y}`;
    case 'none':
      return '';
  }
}

/** Records a selection without adding a history entry (and without firing `hashchange`). */
export function writeHash(selection: Selection): void {
  const hash = formatHash(selection);
  if (hash === window.location.hash) return;
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, '', `${pathname}${search}${hash}`);
}

export function onHashChange(listener: (selection: Selection) => void): void {
  window.addEventListener('hashchange', () => listener(parseHash(window.location.hash)));
}
