import { Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import type { MoveCommand, MoveResult, Position } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { findPath } from './pathfinding.js';
import { VILLAGE_MAP } from './world-map.provider.js';
import type { VillageMap } from './village-map.js';

/**
 * Moves: a step is applied at once; a destination becomes a path that the world clock walks one
 * tile per tick. Both change the agent's row under its row lock, so moves sent to any replica,
 * and the tick, are each applied exactly once and in some order, never lost or doubled.
 */
@Injectable()
export class MovementService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
    @Inject(VILLAGE_MAP) private readonly map: VillageMap,
  ) {}

  async move(agentId: string, command: MoveCommand): Promise<MoveResult> {
    return command.kind === 'step' ? this.step(agentId, command) : this.walk(agentId, command);
  }

  /**
   * One statement: the row lock serialises concurrent moves of the same agent, and the target
   * tile is checked in SQL against the map's walkability bits, so no step is lost or doubled.
   */
  private async step(agentId: string, step: { dx: number; dy: number }): Promise<MoveResult> {
    const { rows } = await this.database.query<{ x: number; y: number; version: string }>({
      name: 'agent-step',
      text: `UPDATE agents SET x = x + $2, y = y + $3, path = '{}', destination_x = NULL, destination_y = NULL,
                    destination_landmark = NULL, version = version + 1, updated_at = now()
              WHERE id = $1
                AND x + $2 BETWEEN 0 AND $4 - 1 AND y + $3 BETWEEN 0 AND $5 - 1
                AND get_bit($6::bytea, (y + $3) * $4 + x + $2) = 1
              RETURNING x, y, version`,
      values: [agentId, step.dx, step.dy, this.map.width, this.map.height, this.map.walkableBits],
    });
    const moved = rows[0];
    if (!moved) throw await this.whyStepRefused(agentId, step);
    const position = { x: moved.x, y: moved.y };
    const version = Number(moved.version);
    const landmark = this.map.landmarkAt(position.x, position.y)?.id ?? null;
    await this.events.publish([{ type: 'agent.moved', agentId, position, version, remaining: 0, landmark }]);
    return { agentId, outcome: 'moved', position, version, destination: null, landmark: null, eta: 0 };
  }

  /**
   * Ends the walks of these agents where they stand (the kill switch freezing them): their stored
   * paths are dropped under the row lock, and each halted walk ends with `agent.arrived` at its tile.
   */
  async halt(agentIds: readonly string[]): Promise<string[]> {
    if (agentIds.length === 0) return [];
    const { rows } = await this.database.query<Position & { id: string }>(
      `UPDATE agents SET path = '{}', destination_x = NULL, destination_y = NULL, destination_landmark = NULL,
              updated_at = now()
        WHERE id = ANY($1::text[]) AND cardinality(path) > 0 RETURNING id, x, y`,
      [agentIds],
    );
    await this.events.publish(
      rows.map((row) => ({
        type: 'agent.arrived' as const,
        agentId: row.id,
        position: { x: row.x, y: row.y },
        landmark: this.map.landmarkAt(row.x, row.y)?.id ?? null,
      })),
    );
    return rows.map((row) => row.id);
  }

  private async whyStepRefused(agentId: string, step: { dx: number; dy: number }): Promise<Error> {
    const { rows } = await this.database.query<Position>('SELECT x, y FROM agents WHERE id = $1', [agentId]);
    const at = rows[0];
    if (!at) return new NotFoundException(`there is no agent with id "${agentId}"`);
    const problem = this.map.whyNotWalkable(at.x + step.dx, at.y + step.dy) ?? 'the tile is not walkable';
    return new UnprocessableEntityException(`cannot step there: ${problem}`);
  }

  /** Locks the agent's row while its path is found, so the path starts where the agent really is. */
  private async walk(
    agentId: string,
    target: { kind: 'tile'; x: number; y: number } | { kind: 'landmark'; landmark: string },
  ): Promise<MoveResult> {
    const { destination, landmark } = this.resolveDestination(target);
    const result = await this.database.transaction(async (client) => {
      const { rows } = await client.query<Position & { version: string }>(
        'SELECT x, y, version FROM agents WHERE id = $1 FOR UPDATE',
        [agentId],
      );
      const at = rows[0];
      if (!at) throw new NotFoundException(`there is no agent with id "${agentId}"`);
      const from = { x: at.x, y: at.y };
      const path = findPath(this.map, from, destination);
      if (!path) {
        throw new UnprocessableEntityException(
          `no walkable way from (${from.x}, ${from.y}) to (${destination.x}, ${destination.y})`,
        );
      }
      await client.query(
        `UPDATE agents SET path = $2, destination_x = $3, destination_y = $4, destination_landmark = $5,
                updated_at = now() WHERE id = $1`,
        [agentId, path.map((tile) => this.map.indexOf(tile)), destination.x, destination.y, landmark],
      );
      return { from, steps: path.length, version: Number(at.version) };
    });
    const { from, steps, version } = result;
    await this.events.publish([
      steps === 0
        ? { type: 'agent.arrived', agentId, position: from, landmark }
        : { type: 'agent.walk_started', agentId, from, destination, landmark, steps },
    ]);
    return {
      agentId,
      outcome: steps === 0 ? 'already-there' : 'walking',
      position: from,
      version,
      destination,
      landmark,
      eta: steps,
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
