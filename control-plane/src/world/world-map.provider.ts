import type { Config } from '../config/config.js';
import { VillageMap } from './village-map.js';
import { PATHS } from '../paths.js';

export const VILLAGE_MAP = Symbol('VILLAGE_MAP');

/** The shipped default village. */
export const DEFAULT_MAP_FILE = PATHS.defaultMap;

export function loadVillageMap(config: Pick<Config, 'VILLAGE_MAP'>): VillageMap {
  return VillageMap.fromFile(config.VILLAGE_MAP ?? DEFAULT_MAP_FILE);
}
