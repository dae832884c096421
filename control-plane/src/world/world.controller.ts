import { Controller, Get, Inject } from '@nestjs/common';
import type { World } from '../contract/index.js';
import { AgentsService } from '../agents/agents.service.js';
import { CONFIG, type Config } from '../config/config.js';
import { WorldClockState } from './clock/world-clock.state.js';
import { VILLAGE_MAP } from './world-map.provider.js';
import type { VillageMap } from './village-map.js';

@Controller('world')
export class WorldController {
  constructor(
    @Inject(VILLAGE_MAP) private readonly map: VillageMap,
    @Inject(CONFIG) private readonly config: Config,
    private readonly agents: AgentsService,
    private readonly clock: WorldClockState,
  ) {}

  /** The whole world at a glance: size, map, landmarks, agents, clock. */
  @Get()
  async world(): Promise<World> {
    return {
      name: this.map.name,
      size: { width: this.map.width, height: this.map.height, tileSize: this.map.tileSize },
      map: { url: '/api/world/map', format: 'tiled-json' },
      landmarks: [...this.map.landmarks],
      agents: await this.agents.all(),
      clock: { tick: this.clock.tick, tickMs: this.config.VILLAGE_TICK_MS },
    };
  }

  /** The Tiled JSON map as loaded (tiles, tileset with colours and walkability, landmark objects). */
  @Get('map')
  tiledMap() {
    return this.map.tiled;
  }
}
