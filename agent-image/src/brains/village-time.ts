// Village time of day from the world clock: by default one tick is one village minute and tick 0
// is 08:00 on the first morning.
export interface VillageClock {
  minutesPerTick: number;
  /** The village minute of day (0-1439) at tick 0. */
  minuteAtTickZero: number;
}

export const DEFAULT_VILLAGE_CLOCK: VillageClock = { minutesPerTick: 1, minuteAtTickZero: 8 * 60 };

export type DayPart = 'night' | 'morning' | 'day' | 'evening';

export function minuteOfDay(tick: number, clock: VillageClock = DEFAULT_VILLAGE_CLOCK): number {
  const minute = Math.floor(clock.minuteAtTickZero + tick * clock.minutesPerTick);
  return ((minute % 1440) + 1440) % 1440;
}

/** night 22:00-06:00, morning 06:00-09:30, day 09:30-19:00, evening 19:00-22:00. */
export function dayPart(minute: number): DayPart {
  if (minute < 6 * 60) return 'night';
  if (minute < 9 * 60 + 30) return 'morning';
  if (minute < 19 * 60) return 'day';
  if (minute < 22 * 60) return 'evening';
  return 'night';
}

/** `07:05` */
export function clockText(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}
