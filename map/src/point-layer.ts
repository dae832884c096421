// A Leaflet layer of plain DOM elements pinned to map points, for hundreds of agents.
// L.Marker positions each icon with translate3d, which makes every marker its own compositing layer;
// with 500 agents gliding, layerizing and committing those layers cost most of every frame. Here the
// elements get 2D transforms inside one container, so the browser paints them into a single layer.
import * as L from 'leaflet';

interface Point {
  latlng: L.LatLng;
  zOffset: number;
  /** The z-index last written, so a glide within one row does not restyle the stacking order. */
  zIndex: number;
}

export class DomPointLayer extends L.Layer {
  private readonly points = new Map<HTMLElement, Point>();
  private container: HTMLElement | undefined;

  constructor(options?: L.LayerOptions) {
    super();
    // L.Layer ignores constructor arguments (its options come from L.Class's initialize), so set
    // them explicitly: in the overlay pane the vector canvas would cover the agents and eat clicks.
    L.setOptions(this, { pane: 'markerPane', ...options });
  }

  override onAdd(_map: L.Map): this {
    this.container = L.DomUtil.create('div', 'dom-point-layer', this.getPane());
    for (const element of this.points.keys()) this.container.append(element);
    this.placeAll();
    return this;
  }

  override onRemove(): this {
    this.container?.remove();
    this.container = undefined;
    return this;
  }

  override getEvents(): { [name: string]: L.LeafletEventHandlerFn } {
    return {
      zoom: () => this.placeAll(),
      viewreset: () => this.placeAll(),
      zoomanim: (event) => this.animateZoom(event as L.ZoomAnimEvent),
    };
  }

  /** The container the points live in, e.g. for delegated event listeners. */
  get element(): HTMLElement | undefined {
    return this.container;
  }

  addPoint(element: HTMLElement, latlng: L.LatLng): void {
    element.classList.add('leaflet-zoom-animated');
    this.points.set(element, { latlng, zOffset: 0, zIndex: Number.NaN });
    this.container?.append(element);
    this.place(element);
  }

  movePoint(element: HTMLElement, latlng: L.LatLng): void {
    const point = this.points.get(element);
    if (!point) return;
    point.latlng = latlng;
    this.place(element);
  }

  removePoint(element: HTMLElement): void {
    this.points.delete(element);
    element.remove();
  }

  latLngOf(element: HTMLElement): L.LatLng | undefined {
    return this.points.get(element)?.latlng;
  }

  /** Raises an element above the others (it is otherwise stacked by its row, lower in front). */
  setZOffset(element: HTMLElement, zOffset: number): void {
    const point = this.points.get(element);
    if (!point || point.zOffset === zOffset) return;
    point.zOffset = zOffset;
    this.place(element);
  }

  private place(element: HTMLElement): void {
    const point = this.points.get(element);
    if (!point || !this._map) return;
    // Not rounded: sub-pixel steps are what make a slow glide look smooth.
    this.setTransform(element, this._map.latLngToLayerPoint(point.latlng), point);
  }

  private placeAll(): void {
    for (const element of this.points.keys()) this.place(element);
  }

  /** Moves every element to where it will be at the end of Leaflet's zoom animation (CSS transitions it). */
  private animateZoom(event: L.ZoomAnimEvent): void {
    const map = this._map;
    if (!map) return;
    const panePosition = map.layerPointToContainerPoint([0, 0]);
    const origin = map.project(event.center, event.zoom).subtract(map.getSize().divideBy(2)).add(panePosition).round();
    for (const [element, point] of this.points) {
      this.setTransform(element, map.project(point.latlng, event.zoom).subtract(origin).round(), point);
    }
  }

  private setTransform(element: HTMLElement, at: L.Point, point: Point): void {
    element.style.transform = `translate(${at.x}px, ${at.y}px)`;
    // Stacked by map row (lat = -y), not by pixel: the order only changes when a row is crossed.
    const zIndex = Math.floor(-point.latlng.lat) + point.zOffset;
    if (zIndex !== point.zIndex) {
      point.zIndex = zIndex;
      element.style.zIndex = String(zIndex);
    }
  }
}
