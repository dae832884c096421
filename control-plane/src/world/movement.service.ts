import {
  Inject,
  Injectable,
  NotFoundException,
  ServiceUnavailableException,
  UnprocessableEntityException,
} from '@nestjs/common';
import type { MoveCommand, MoveResult, Position } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { findPath } from './pathfinding.js';
import { VILLAGE_MAP } from './world-map.provider.js';
import type { VillageMap } from './village-map.js';

// A move races only with the tick (one step a second), so a couple of retries always suffice.
const MAX_ATTEMPTS = 4;

interface Located {
  x: number;
  y: number;
  version: string;
}

/**
 * Moves: a step is applied at once; a destination becomes a path that the world clock walks one
 * tile per tick. Each change is one conditional UPDATE on the agent's row ("only if it is still
 * where I saw it"), so a move sent to any replica is applied exactly once, even mid-tick.
 */
@Injectable()
export class MovementService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
    @Inject(VILLAGE_MAP) private readonly map: VillageMap,
  ) {}

  async move(agentId: string, command: MoveCommand): Promise<MoveResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { rows } = await this.database.query<Located>('SELECT x, y, version FROM agents WHERE id = $1', [agentId]);
      const at = rows[0];
      if (!at) throw new NotFoundException(`there is no agent with id "${agentId}"`);
      const result =
        command.kind === 'step' ? await this.step(agentId, at, command) : await this.walk(agentId, at, command);
      if (result) return result;
    }
    throw new ServiceUnavailableException('the agent kept moving while the move was applied; try again');
  }

  private async step(agentId: string, at: Located, step: { dx: number; dy: number }): Promise<MoveResult | undefined> {
    const to = { x: at.x + step.dx, y: at.y + step.dy };
    const problem = this.map.whyNotWalkable(to.x, to.y);
    if (problem) throw new UnprocessableEntityException(`cannot step there: ${problem}`);
    const { rows } = await this.database.query<{ version: string }>(
      `UPDATE agents SET x = $2, y = $3, path = '{}', destination_x = NULL, destination_y = NULL,
              destination_landmark = NULL, version = version + 1, updated_at = now()
        WHERE id = $1 AND x = $4 AND y = $5
        RETURNING version`,
      [agentId, to.x, to.y, at.x, at.y],
    );
    if (!rows[0]) return undefined;
    const version = Number(rows[0].version);
    await this.events.publish([{ type: 'agent.moved', agentId, position: to, version, remaining: 0 }]);
    return { agentId, outcome: 'moved', position: to, version, destination: null, landmark: null, eta: 0 };
  }

  private async walk(
    agentId: string,
    at: Located,
    target: { kind: 'tile'; x: number; y: number } | { kind: 'landmark'; landmark: string },
  ): Promise<MoveResult | undefined> {
    const { destination, landmark } = this.resolveDestination(target);
    const from = { x: at.x, y: at.y };
    const path = findPath(this.map, from, destination);
    if (!path)
      throw new UnprocessableEntityException(
        `no walkable way from (${from.x}, ${from.y}) to (${destination.x}, ${destination.y})`,
      );
    const { rows } = await this.database.query<{ version: string }>(
      `UPDATE agents SET path = $2, destination_x = $3, destination_y = $4, destination_landmark = $5, updated_at = now()
        WHERE id = $1 AND x = $6 AND y = $7
        RETURNING version`,
      [agentId, path.map((tile) => this.map.indexOf(tile)), destination.x, destination.y, landmark, at.x, at.y],
    );
    if (!rows[0]) return undefined;
    const version = Number(rows[0].version);
    await this.events.publish([
      path.length === 0
        ? { type: 'agent.arrived', agentId, position: from, landmark }
        : { type: 'agent.walk_started', agentId, from, destination, landmark, steps: path.length },
    ]);
    return {
      agentId,
      outcome: path.length === 0 ? 'already-there' : 'walking',
      position: from,
      version,
      destination,
      landmark,
      eta: path.length,
    };
  }

  private resolveDestination(target: { kind: 'tile'; x: number; y: number } | { kind: 'landmark'; landmark: string }): {
    destination: Position;
    landmark: string | null;
  } {
    if (target.kind === 'landmark') {
      const landmark = this.map.landmark(target.landmark);
      if (!landmark) {
        const known = this.map.landmarks.map((l) => l.id).join(', ');
        throw new UnprocessableEntityException(`there is no landmark "${target.landmark}"; known landmarks: ${known}`);
      }
      return { destination: landmark.entrance, landmark: landmark.id };
    }
    const problem = this.map.whyNotWalkable(target.x, target.y);
    if (problem) throw new UnprocessableEntityException(`cannot walk there: ${problem}`);
    return { destination: { x: target.x, y: target.y }, landmark: this.map.landmarkAt(target.x, target.y)?.id ?? null };
  }
}
