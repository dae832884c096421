import { Global, Module } from '@nestjs/common';
import { CONFIG, type Config } from '../config/config.js';
import { VILLAGE_MAP, loadVillageMap } from './world-map.provider.js';

/** The static map, loaded once per process from the Tiled file. */
@Global()
@Module({
  providers: [{ provide: VILLAGE_MAP, inject: [CONFIG], useFactory: (config: Config) => loadVillageMap(config) }],
  exports: [VILLAGE_MAP],
})
export class WorldMapModule {}
