import { Global, Module } from '@nestjs/common';
import { WorldClockState } from '../world/clock/world-clock.state.js';
import { EventBus } from './event-bus.service.js';

/** The event stream, and the current tick that stamps every event. */
@Global()
@Module({ providers: [EventBus, WorldClockState], exports: [EventBus, WorldClockState] })
export class EventsModule {}
