import { Injectable } from '@nestjs/common';

/** What this replica knows of the world clock: the last tick it saw. Kept fresh by WorldClock. */
@Injectable()
export class WorldClockState {
  tick = 0;
  isLeader = false;

  observe(tick: number) {
    if (tick > this.tick) this.tick = tick;
  }
}
