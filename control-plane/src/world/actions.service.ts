import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { ActionResult, AgentAction, NewWorldEvent, Position } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';

/** Non-movement actions. Each becomes one domain event; new action types add a case here. */
@Injectable()
export class ActionsService {
  constructor(
    private readonly database: DatabaseService,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}

  async perform(agentId: string, action: AgentAction): Promise<ActionResult> {
    const { rows } = await this.database.query<Position>('SELECT x, y FROM agents WHERE id = $1', [agentId]);
    const position = rows[0];
    if (!position) throw new NotFoundException(`there is no agent with id "${agentId}"`);
    // The event is the only record of an action, so it must be stored before the answer says 200.
    const [event] = await this.events.publish([this.eventFor(agentId, action, { x: position.x, y: position.y })], {
      durable: true,
    });
    return { agentId, action, at: event!.at };
  }

  private eventFor(agentId: string, action: AgentAction, position: Position): NewWorldEvent {
    switch (action.type) {
      case 'say':
        return { type: 'agent.said', agentId, text: action.text, position };
      case 'emote':
        return { type: 'agent.emoted', agentId, emote: action.emote };
    }
  }
}
