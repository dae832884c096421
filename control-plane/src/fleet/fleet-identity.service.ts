import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';

/**
 * This village's name on the engines it drives (`fleet_identity`, made once by the migration). Every
 * container the fleet creates carries it as a label, and the fleet treats only containers with it as
 * its own: another village, a test run or a person's container on the same engine is never a stray.
 */
@Injectable()
export class FleetIdentity {
  private cached: Promise<string> | undefined;

  constructor(private readonly database: DatabaseService) {}

  villageId(): Promise<string> {
    this.cached ??= this.database
      .query<{ village_id: string }>('SELECT village_id FROM fleet_identity WHERE id = 1')
      .then(({ rows }) => rows[0]!.village_id);
    this.cached.catch(() => (this.cached = undefined));
    return this.cached;
  }
}
