/** Village time of day from the world clock: by default one tick is one village minute, tick 0 is 08:00. */
export interface VillageClock {
  minutesPerTick: number;
  /** The village minute of day (0-1439) at tick 0. */
  minuteAtTickZero: number;
}

export const DEFAULT_VILLAGE_CLOCK: VillageClock = { minutesPerTick: 1, minuteAtTickZero: 8 * 60 };

/** The village minute of day (0-1439) at a tick. */
export function villageMinuteOfDay(tick: number, clock: VillageClock = DEFAULT_VILLAGE_CLOCK): number {
  const minute = Math.floor(clock.minuteAtTickZero + tick * clock.minutesPerTick);
  return ((minute % 1440) + 1440) % 1440;
}

/** `07:05` */
export function villageClockText(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}
