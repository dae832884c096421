// The highlighted tile of `#tile=x,y`: a square around it and a small popup saying where it is.
import * as L from 'leaflet';
import type { Position } from '@ai-village/control-plane/contract';
import type { LandmarkIndex } from './landmarks.js';
import { walkableAt, type Ground } from './tiled-map.js';
import { areaBounds, tileCentre } from './world-map.js';

export class TileHighlight {
  private readonly square = L.rectangle(areaBounds({ x: 0, y: 0, width: 1, height: 1 }), {
    className: 'tile-highlight',
    color: '#f59e0b',
    weight: 2.5,
    fillColor: '#fde68a',
    fillOpacity: 0.35,
    interactive: false,
  });
  private readonly popup = L.popup({ className: 'tile-popup', offset: [0, -4], autoPan: false, closeButton: true });
  private shown: Position | null = null;

  constructor(
    private readonly map: L.Map,
    private readonly ground: Ground,
    private readonly landmarks: LandmarkIndex,
    /** Called when the person closes the popup. */
    onClose: () => void,
  ) {
    this.popup.on('remove', () => {
      if (this.shown) {
        this.hide();
        onClose();
      }
    });
  }

  contains(tile: Position): boolean {
    return tile.x >= 0 && tile.y >= 0 && tile.x < this.ground.width && tile.y < this.ground.height;
  }

  show(tile: Position, centre: boolean): void {
    this.shown = tile;
    this.square.setBounds(areaBounds({ ...tile, width: 1, height: 1 })).addTo(this.map);
    const landmark = this.landmarks.at(tile);
    const content = document.createElement('div');
    const title = document.createElement('strong');
    title.textContent = `Tile ${tile.x}, ${tile.y}`;
    const place = document.createElement('div');
    place.textContent = landmark ? (this.landmarks.label(landmark.id) ?? landmark.name) : 'Open ground';
    const ground = document.createElement('div');
    ground.className = 'tile-popup-ground';
    ground.textContent = walkableAt(this.ground, tile.x, tile.y) === false ? 'Not walkable' : 'Walkable';
    content.append(title, place, ground);
    this.popup
      .setLatLng(L.latLng(-tile.y, tile.x + 0.5))
      .setContent(content)
      .openOn(this.map);
    if (centre) this.map.setView(tileCentre(tile), Math.max(this.map.getZoom(), 4));
  }

  hide(): void {
    this.shown = null;
    this.square.remove();
    this.map.closePopup(this.popup);
  }
}
