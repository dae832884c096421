// The Leaflet map in world units: CRS.Simple with one map unit per tile. The grid is y-down (as in
// Tiled and the API), so lat = -y: tile (x, y) covers lng x..x+1 and lat -y-1..-y.
import * as L from 'leaflet';
import type { Position, TileArea } from '@ai-village/control-plane/contract';

/** Zoom z shows 2^z screen pixels per tile; 6 is 64 px, close enough to read a speech bubble. */
const MAX_ZOOM = 6;

export function tileCentre(position: Position): L.LatLng {
  return L.latLng(-(position.y + 0.5), position.x + 0.5);
}

export function areaBounds(area: TileArea): L.LatLngBounds {
  return L.latLngBounds([-(area.y + area.height), area.x], [-area.y, area.x + area.width]);
}

/** The tile under a map point (may be outside the world). */
export function tileAt(latlng: L.LatLng): Position {
  return { x: Math.floor(latlng.lng), y: Math.floor(-latlng.lat) };
}

export function pixelsPerTile(map: L.Map, zoom = map.getZoom()): number {
  return 2 ** zoom;
}

export function createWorldMap(container: HTMLElement, size: { width: number; height: number }): L.Map {
  const bounds = areaBounds({ x: 0, y: 0, ...size });
  const map = L.map(container, {
    crs: L.CRS.Simple,
    // One canvas for outlines, walk lines and highlights keeps hundreds of shapes cheap.
    preferCanvas: true,
    renderer: L.canvas({ padding: 0.5 }),
    zoomSnap: 0.25,
    zoomDelta: 0.5,
    wheelPxPerZoomLevel: 90,
    maxZoom: MAX_ZOOM,
    maxBounds: bounds.pad(0.25),
    maxBoundsViscosity: 0.8,
    attributionControl: false,
    zoomControl: true,
  });
  map.fitBounds(bounds, { animate: false });
  // Allow zooming out a little past "whole village" but no further; recompute when the window resizes.
  const updateMinZoom = () => map.setMinZoom(Math.min(map.getBoundsZoom(bounds) - 1, MAX_ZOOM - 1));
  updateMinZoom();
  map.on('resize', updateMinZoom);

  // Marker sizes follow the zoom through CSS custom properties, so no marker is touched on zoom.
  const updateZoomStyle = () => {
    const px = pixelsPerTile(map);
    container.style.setProperty('--tile-px', `${px}px`);
    container.dataset.detail = px < 6 ? 'far' : px < 12 ? 'mid' : px < 24 ? 'near' : 'close';
  };
  updateZoomStyle();
  map.on('zoomend', updateZoomStyle);
  return map;
}
