import type { AuthService } from '../auth/auth.service.js';
import { isAdmin, type Principal } from '../auth/principal.js';
import type { Role } from '../contract/index.js';
import type { DatabaseService } from '../database/database.service.js';
import { passwordMatches } from '../people/passwords.js';
import type { VillageEditorUser } from './node-red-storage.js';

interface AdminRow {
  id: string;
  handle: string;
  display_name: string;
  role: Role;
  password_hash: string;
  banned: boolean;
}

/** How long an editor sign-in lasts (Node-RED's own session, re-checked against the account on every call). */
export const EDITOR_SESSION_S = 12 * 60 * 60;

/**
 * Node-RED's `adminAuth` over the village's accounts: the editor's sign-in form takes an admin person's
 * handle or email and password (the same as the map's sign-in), and the admin API also takes the
 * village's own bearer tokens (an admin person's access token, or the admin token). Anyone else gets
 * 401. A person who stops being an admin, or is banned, loses the editor at their next call.
 */
export function editorAuth(database: DatabaseService, auth: AuthService) {
  const admin = async (login: string): Promise<AdminRow | undefined> => {
    const { rows } = await database.query<AdminRow>(
      `SELECT id, handle, display_name, role, password_hash,
              (banned_at IS NOT NULL AND (banned_until IS NULL OR banned_until > now())) AS banned
         FROM users WHERE handle = lower($1) OR email = lower($1)`,
      [login],
    );
    return rows[0];
  };
  const editorUser = (row: AdminRow): VillageEditorUser => ({
    username: row.handle,
    permissions: '*',
    principal: {
      kind: 'user',
      userId: row.id,
      sessionId: 'flow-editor',
      handle: row.handle,
      name: row.display_name,
      role: row.role,
      ban: null,
    },
  });
  return {
    type: 'credentials',
    sessionExpiryTime: EDITOR_SESSION_S,
    /** Node-RED's session names the login it was opened with; it must still be an unbanned admin. */
    users: async (login: string) => {
      const row = await admin(login);
      return row && row.role === 'admin' && !row.banned ? editorUser(row) : null;
    },
    authenticate: async (login: string, password: string) => {
      const row = await admin(String(login ?? ''));
      const matches = await passwordMatches(row?.password_hash, String(password ?? ''));
      return row && matches && row.role === 'admin' && !row.banned ? editorUser(row) : null;
    },
    /** The village's bearer tokens, for scripts and for the console. */
    tokens: async (token: string): Promise<VillageEditorUser | null> => {
      const principal = await auth.authenticate(token).catch(() => undefined);
      if (!principal || principal === 'expired' || !isAdmin(principal) || banned(principal)) return null;
      return {
        username: principal.kind === 'user' ? principal.handle : 'admin-token',
        permissions: '*',
        principal,
      };
    },
  };
}

function banned(principal: Principal) {
  return principal.kind === 'user' && principal.ban !== null;
}
