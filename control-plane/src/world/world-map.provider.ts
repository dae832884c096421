import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/config.js';
import { VillageMap } from './village-map.js';

export const VILLAGE_MAP = Symbol('VILLAGE_MAP');

/** The shipped default village, found from this file in src/ and dist/src/ alike. */
export const DEFAULT_MAP_FILE = [
  fileURLToPath(new URL('../../assets/maps/village.tmj', import.meta.url)),
  fileURLToPath(new URL('../../../assets/maps/village.tmj', import.meta.url)),
].find((file) => existsSync(file))!;

export function loadVillageMap(config: Pick<Config, 'VILLAGE_MAP'>): VillageMap {
  return VillageMap.fromFile(config.VILLAGE_MAP ?? DEFAULT_MAP_FILE);
}
