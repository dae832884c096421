import type { NodeRedUser } from 'node-red';
import type { Principal } from '../auth/principal.js';
import type { FlowConfig, FlowCredentials, FlowStore } from './flow-store.js';

/** Who Node-RED says deployed: our user objects carry the principal (see editor-auth.ts). */
export interface VillageEditorUser extends NodeRedUser {
  principal?: Principal;
}

/** What the next saveFlows records instead of a plain deploy (a rollback names its target). */
export interface PendingDeploy {
  kind: 'rollback';
  rollbackOf: number;
  reason: string;
}

/**
 * Node-RED's storage module over PostgreSQL (FlowStore): flows and credentials from the newest
 * deploy, each save a new deploy, and Node-RED's settings and editor sessions as keys. getSettings and
 * saveSettings matter: without them a generated credential secret would be lost on restart. The
 * library (saved snippets) is not kept: the palette and the flows are the village's whole vocabulary.
 */
export class NodeRedStorage {
  /** Set by a rollback just before it hands Node-RED the old flows; consumed by the save it causes. */
  pending: PendingDeploy | undefined;
  private credentials: FlowCredentials | undefined;

  constructor(
    private readonly store: FlowStore,
    private readonly defaultFlows: () => FlowConfig,
  ) {}

  /** Node-RED checks the module's own properties, so every method is an own arrow function. */
  init = async () => {
    await this.store.installDefaults(this.defaultFlows());
  };

  getFlows = async (): Promise<FlowConfig> => (await this.store.current())?.flows ?? [];

  saveFlows = async (flows: FlowConfig, user?: VillageEditorUser) => {
    const pending = this.pending;
    this.pending = undefined;
    await this.store.record({
      kind: pending?.kind ?? 'deploy',
      rollbackOf: pending?.rollbackOf,
      reason: pending?.reason,
      flows,
      credentials: this.credentials ?? (await this.getCredentials()),
      deployedBy: deployerOf(user),
      actor: user?.principal,
    });
  };

  getCredentials = async (): Promise<FlowCredentials> => {
    this.credentials ??=
      (await this.store.state<FlowCredentials>('credentials')) ?? (await this.store.current())?.credentials ?? {};
    return this.credentials;
  };

  saveCredentials = async (credentials: FlowCredentials) => {
    this.credentials = credentials;
    await this.store.setState('credentials', credentials);
  };

  getSettings = async () => (await this.store.state<Record<string, unknown>>('settings')) ?? {};
  saveSettings = (settings: Record<string, unknown>) => this.store.setState('settings', settings);
  getSessions = async () => (await this.store.state<Record<string, unknown>>('sessions')) ?? {};
  saveSessions = (sessions: Record<string, unknown>) => this.store.setState('sessions', sessions);

  getLibraryEntry = async (_type: string, path: string) => {
    if (path === '' || path.endsWith('/')) return [];
    const error = new Error('the flow library is not kept in the village') as Error & { code: string };
    error.code = 'not_found';
    throw error;
  };
  saveLibraryEntry = async () => {
    throw new Error('the flow library is not kept in the village: export the flow or deploy it instead');
  };
}

function deployerOf(user: VillageEditorUser | undefined): string {
  if (!user) return 'village';
  if (user.principal?.kind === 'admin') return 'admin-token';
  return `user:${user.username}`;
}
