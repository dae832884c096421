import { z } from 'zod';

/** The embedded Node-RED (docs/FLOWS.md): part of ConfigSchema. */
export const FLOW_SETTINGS = {
  /**
   * Run the flow editor (at /flows) and the flows in this replica. With several replicas, run them in
   * one (and route /flows there): every replica that runs them acts on every event.
   */
  VILLAGE_FLOWS: z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  /**
   * Encrypts the credentials the flows keep (tokens of village connections, say) in PostgreSQL. At
   * least 32 characters; changing it makes the stored credentials unreadable. Without it Node-RED makes
   * one up and keeps it in the database beside what it encrypts (a warning is logged).
   */
  VILLAGE_FLOWS_CREDENTIAL_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
};
