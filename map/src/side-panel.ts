// The side panel's two tabs: the village (agents and the live feed) and the town board. On a phone the
// panel is a sheet over the map, opened from the top bar ("People & feed", or "Board" for the board).
export type PanelTab = 'village' | 'board';

const PHONE = window.matchMedia('(max-width: 720px)');

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

export class SidePanel {
  private tab: PanelTab = 'village';
  private readonly tabs: Record<PanelTab, HTMLButtonElement> = {
    village: byId<HTMLButtonElement>('tab-village'),
    board: byId<HTMLButtonElement>('tab-board'),
  };
  private readonly views: Record<PanelTab, HTMLElement> = {
    village: byId('village-view'),
    board: byId('board-view'),
  };
  private readonly toggle = byId<HTMLButtonElement>('panel-toggle');
  private readonly boardToggle = byId<HTMLButtonElement>('board-toggle');

  /** @param onTab called when the shown tab changes. */
  constructor(private readonly onTab: (tab: PanelTab) => void) {
    this.tabs.village.addEventListener('click', () => this.select('village'));
    this.tabs.board.addEventListener('click', () => this.select('board'));
    this.toggle.addEventListener('click', () => {
      if (this.open && this.tab === 'village') this.close();
      else this.show('village');
    });
    // The top bar's board button: opens the board, or leaves it when it is what the person sees.
    this.boardToggle.addEventListener('click', () => {
      if (this.tab !== 'board' || (PHONE.matches && !this.open)) this.show('board');
      else if (PHONE.matches) this.close();
      else this.select('village');
    });
    this.render();
  }

  get current(): PanelTab {
    return this.tab;
  }

  /** Shows a tab; on a phone, opens the sheet too. */
  show(tab: PanelTab): void {
    this.select(tab);
    this.setOpen(true);
  }

  /** On a phone, puts the sheet away (e.g. after picking an agent, to see it on the map). */
  close(): void {
    this.setOpen(false);
  }

  /** A count on the board's tab and button: new posts the person has not looked at. */
  setUnread(count: number): void {
    for (const badge of document.querySelectorAll<HTMLElement>('.board-unread')) {
      badge.textContent = count > 99 ? '99+' : String(count);
      badge.hidden = count === 0;
    }
  }

  private get open(): boolean {
    return document.body.classList.contains('panel-open');
  }

  private setOpen(open: boolean): void {
    document.body.classList.toggle('panel-open', open);
    this.toggle.setAttribute('aria-expanded', String(open && this.tab === 'village'));
    this.boardToggle.setAttribute('aria-expanded', String(open && this.tab === 'board'));
  }

  private select(tab: PanelTab): void {
    if (tab === this.tab) return;
    this.tab = tab;
    this.render();
    this.setOpen(this.open);
    this.onTab(tab);
  }

  private render(): void {
    for (const tab of ['village', 'board'] as const) {
      this.tabs[tab].setAttribute('aria-selected', String(tab === this.tab));
      this.tabs[tab].tabIndex = tab === this.tab ? 0 : -1;
      this.views[tab].hidden = tab !== this.tab;
    }
    document.body.classList.toggle('board-open', this.tab === 'board');
  }
}
