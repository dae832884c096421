// Village time of day from the world clock (by default one tick is one village minute and tick 0 is
// 08:00 on the first morning). The clock is the contract's, shared with the village nodes; the parts of
// the day are the brains'.
export {
  DEFAULT_VILLAGE_CLOCK,
  villageClockText as clockText,
  villageMinuteOfDay as minuteOfDay,
  type VillageClock,
} from '@ai-village/control-plane/contract';

export type DayPart = 'night' | 'morning' | 'day' | 'evening';

/** night 22:00-06:00, morning 06:00-09:30, day 09:30-19:00, evening 19:00-22:00. */
export function dayPart(minute: number): DayPart {
  if (minute < 6 * 60) return 'night';
  if (minute < 9 * 60 + 30) return 'morning';
  if (minute < 19 * 60) return 'day';
  if (minute < 22 * 60) return 'evening';
  return 'night';
}
