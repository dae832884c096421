// Landmarks: a thin outline of each area and a label with an icon for its kind.
import * as L from 'leaflet';
import { landmarkIndex, type Landmark, type Position } from '@ai-village/control-plane/contract';
import { areaBounds } from './world-map.js';

const KIND_ICONS: Record<string, string> = {
  home: '🏠',
  cafe: '☕',
  market: '🛒',
  board: '📌',
  park: '🌳',
  square: '⛲',
  library: '📚',
  workshop: '🔧',
  school: '🏫',
  garden: '🌻',
  farm: '🌾',
  pond: '🦆',
  well: '🪣',
  lake: '🌊',
  office: '🏢',
  townhall: '🏛️',
  'town-hall': '🏛️',
  shop: '🏪',
  bakery: '🥐',
  gym: '🏋️',
  clinic: '🏥',
};

export function landmarkIcon(kind: string): string {
  return KIND_ICONS[kind.toLowerCase()] ?? '📍';
}

/** Where landmarks are and what they are called, for the card, the feed and the tile popup. */
export class LandmarkIndex {
  private readonly byId: Map<string, Landmark>;
  /** Per tile (row-major), the index in `all` of the landmark that holds it, or -1: the contract's rule. */
  private readonly byTile: Int16Array;

  constructor(
    readonly all: readonly Landmark[],
    private readonly size: { width: number; height: number },
  ) {
    this.byId = new Map(all.map((landmark) => [landmark.id, landmark]));
    this.byTile = landmarkIndex(size.width, size.height, all);
  }

  get(id: string | null | undefined): Landmark | undefined {
    return id ? this.byId.get(id) : undefined;
  }

  /** The landmark whose area holds a tile; where areas overlap, the smallest area wins (then the later one). */
  at(position: Position): Landmark | undefined {
    const { width, height } = this.size;
    if (position.x < 0 || position.y < 0 || position.x >= width || position.y >= height) return undefined;
    const index = this.byTile[position.y * width + position.x] ?? -1;
    return index < 0 ? undefined : this.all[index];
  }

  label(id: string | null | undefined): string | undefined {
    const landmark = this.get(id);
    return landmark ? `${landmarkIcon(landmark.kind)} ${landmark.name}` : undefined;
  }

  /** A place for people to read: the landmark's label, else the tile's coordinates. */
  placeName(landmarkId: string | null | undefined, tile: Position): string {
    return this.label(landmarkId) ?? `${tile.x}, ${tile.y}`;
  }
}

/** The landmark the board lives at: `town-board`, else the first of kind `board`. */
export function boardLandmark(landmarks: readonly Landmark[]): Landmark | undefined {
  return landmarks.find((landmark) => landmark.id === 'town-board') ?? landmarks.find((l) => l.kind === 'board');
}

/** @param onOpenBoard called when the person clicks the board landmark (its area or its label). */
export function addLandmarkLayer(
  map: L.Map,
  landmarks: readonly Landmark[],
  onOpenBoard?: (landmark: Landmark) => void,
): L.LayerGroup {
  const board = onOpenBoard ? boardLandmark(landmarks) : undefined;
  // Labels sit above the ground and shapes but below agents.
  const pane = map.createPane('landmark-labels');
  pane.style.zIndex = '450';
  pane.style.pointerEvents = 'none';

  const group = L.layerGroup();
  for (const landmark of landmarks) {
    const bounds = areaBounds(landmark.area);
    const opensBoard = landmark === board;
    const area = L.rectangle(bounds, {
      className: 'landmark-area',
      color: '#1e293b',
      weight: 1.25,
      opacity: 0.55,
      fillColor: '#ffffff',
      fillOpacity: 0.06,
      interactive: opensBoard,
    }).addTo(group);

    const label = document.createElement('div');
    label.className = 'landmark-label-inner';
    const icon = document.createElement('span');
    icon.className = 'landmark-icon';
    icon.textContent = landmarkIcon(landmark.kind);
    const name = document.createElement('span');
    name.className = 'landmark-name';
    name.textContent = landmark.name;
    label.append(icon, name);
    if (landmark.description) label.title = landmark.description;
    if (opensBoard && onOpenBoard) {
      // The board opens from its area as well as its label (a click there is not a tile pick).
      const open = () => onOpenBoard(landmark);
      area.on('click', (event) => {
        L.DomEvent.stopPropagation(event);
        open();
      });
      label.classList.add('landmark-opens');
      label.dataset.testid = 'board-landmark';
      label.dataset.landmarkId = landmark.id;
      label.setAttribute('role', 'button');
      label.tabIndex = 0;
      label.title = `${landmark.name}: open the board`;
      L.DomEvent.disableClickPropagation(label);
      label.addEventListener('click', (event) => {
        event.stopPropagation();
        open();
      });
      label.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          open();
        }
      });
    }

    L.marker(L.latLng(bounds.getNorth(), bounds.getCenter().lng), {
      pane: 'landmark-labels',
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: 'landmark-label', html: label, iconSize: [0, 0] }),
    }).addTo(group);
  }
  return group.addTo(map);
}
