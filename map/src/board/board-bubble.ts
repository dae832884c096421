// When an agent pins a post, a speech bubble rises over the town board for a while: who posted and
// the title. A click opens the thread. The newest few stack up; each leaves on its own timer.
import * as L from 'leaflet';
import type { Landmark, Post } from '@ai-village/control-plane/contract';
import { areaBounds } from '../world-map.js';
import type { BoardEvent } from './board-events.js';
import { element, testId } from './dom.js';

const BUBBLE_MS = 12_000;
const MAX_BUBBLES = 3;
const TITLE_MAX_CHARS = 90;

export class BoardBubble {
  private readonly stack = testId(element('div', 'board-bubbles'), 'board-bubbles');
  private readonly marker: L.Marker | undefined;

  constructor(
    private readonly map: L.Map,
    board: Landmark | undefined,
    private readonly onOpen: (postId: number) => void,
  ) {
    if (!board) return;
    // Above the agents (markerPane, 600) and their own bubbles, below popups (700).
    const pane = map.createPane('board-bubbles');
    pane.style.zIndex = '650';
    pane.style.pointerEvents = 'none';
    const bounds = areaBounds(board.area);
    L.DomEvent.disableClickPropagation(this.stack);
    this.marker = L.marker(L.latLng(bounds.getNorth(), bounds.getCenter().lng), {
      pane: 'board-bubbles',
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: 'board-bubble-anchor', html: this.stack, iconSize: [0, 0] }),
    });
  }

  onEvent(event: BoardEvent): void {
    if (event.type === 'post.created' && event.post.author.type === 'agent') this.show(event.post);
  }

  private show(post: Post): void {
    if (!this.marker) return;
    const bubble = testId(element('button', 'board-bubble'), 'board-bubble');
    bubble.type = 'button';
    bubble.dataset.postId = String(post.id);
    const title = post.title.length > TITLE_MAX_CHARS ? `${post.title.slice(0, TITLE_MAX_CHARS - 1)}…` : post.title;
    bubble.append(
      element('strong', 'board-bubble-author', `📌 ${post.author.name}`),
      element('span', 'board-bubble-title', title),
    );
    bubble.title = 'Open this post';
    bubble.addEventListener('click', (event) => {
      // Not a click on the map (a tile pick): the bubble leaves the page before the map would see it.
      event.stopPropagation();
      this.remove(bubble);
      this.onOpen(post.id);
    });
    this.stack.append(bubble);
    while (this.stack.childElementCount > MAX_BUBBLES) this.stack.firstElementChild?.remove();
    if (!this.map.hasLayer(this.marker)) this.marker.addTo(this.map);
    window.setTimeout(() => this.remove(bubble), BUBBLE_MS);
  }

  private remove(bubble: HTMLElement): void {
    bubble.remove();
    if (this.stack.childElementCount === 0) this.marker?.remove();
  }
}
