// The ground, painted on canvas tiles from the Tiled layer's colours: the whole grid is drawn once at
// one pixel per tile, and each Leaflet tile is a nearest-neighbour blow-up of its part, so it stays crisp
// at every zoom. Close up, blocked tiles get a darker edge where they meet walkable ground.
import * as L from 'leaflet';
import { walkableAt, type Ground } from './tiled-map.js';

/** Canvas tile size; styles.css overlaps tiles by one pixel at this size. */
const TILE_PX = 256;
const EDGE_FROM_PX = 8;
const GRID_FROM_PX = 24;

export class GroundLayer extends L.GridLayer {
  private readonly atlas: HTMLCanvasElement;

  constructor(private readonly ground: Ground) {
    super({
      tileSize: TILE_PX,
      noWrap: true,
      bounds: L.latLngBounds([-ground.height, 0], [0, ground.width]),
      className: 'ground-layer',
      keepBuffer: 4,
    });
    this.atlas = paintAtlas(ground);
  }

  protected override createTile(coords: L.Coords): HTMLElement {
    const size = this.getTileSize();
    const canvas = document.createElement('canvas');
    canvas.width = size.x;
    canvas.height = size.y;
    const context = canvas.getContext('2d');
    if (!context) return canvas;
    context.imageSmoothingEnabled = false;

    // In CRS.Simple a layer pixel at zoom z is world units × 2^z, so tiles map to the grid directly.
    const scale = 2 ** coords.z;
    const left = (coords.x * size.x) / scale;
    const top = (coords.y * size.y) / scale;
    const x0 = Math.max(0, left);
    const y0 = Math.max(0, top);
    const x1 = Math.min(this.ground.width, left + size.x / scale);
    const y1 = Math.min(this.ground.height, top + size.y / scale);
    if (x1 <= x0 || y1 <= y0) return canvas;
    context.drawImage(
      this.atlas,
      x0,
      y0,
      x1 - x0,
      y1 - y0,
      (x0 - left) * scale,
      (y0 - top) * scale,
      (x1 - x0) * scale,
      (y1 - y0) * scale,
    );
    if (scale >= EDGE_FROM_PX) this.paintDetail(context, scale, left, top, x0, y0, x1, y1);
    return canvas;
  }

  private paintDetail(
    context: CanvasRenderingContext2D,
    scale: number,
    left: number,
    top: number,
    x0: number,
    y0: number,
    x1: number,
    y1: number,
  ): void {
    const edge = Math.max(1, Math.round(scale / 10));
    context.fillStyle = 'rgba(20, 24, 32, 0.28)';
    for (let y = Math.floor(y0); y < Math.ceil(y1); y++) {
      for (let x = Math.floor(x0); x < Math.ceil(x1); x++) {
        if (walkableAt(this.ground, x, y) !== false) continue;
        const px = (x - left) * scale;
        const py = (y - top) * scale;
        if (walkableAt(this.ground, x, y - 1)) context.fillRect(px, py, scale, edge);
        if (walkableAt(this.ground, x, y + 1)) context.fillRect(px, py + scale - edge, scale, edge);
        if (walkableAt(this.ground, x - 1, y)) context.fillRect(px, py, edge, scale);
        if (walkableAt(this.ground, x + 1, y)) context.fillRect(px + scale - edge, py, edge, scale);
      }
    }
    if (scale < GRID_FROM_PX) return;
    context.fillStyle = 'rgba(0, 0, 0, 0.06)';
    for (let x = Math.ceil(x0); x <= Math.floor(x1); x++)
      context.fillRect((x - left) * scale, (y0 - top) * scale, 1, (y1 - y0) * scale);
    for (let y = Math.ceil(y0); y <= Math.floor(y1); y++)
      context.fillRect((x0 - left) * scale, (y - top) * scale, (x1 - x0) * scale, 1);
  }
}

function paintAtlas(ground: Ground): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = ground.width;
  canvas.height = ground.height;
  const context = canvas.getContext('2d');
  if (!context) return canvas;
  const image = context.createImageData(ground.width, ground.height);
  ground.cells.forEach((typeIndex, i) => {
    const colour = ground.colours[typeIndex];
    if (colour) image.data.set(colour, i * 4);
  });
  context.putImageData(image, 0, 0);
  return canvas;
}
