import type { Role } from '@ai-village/control-plane/contract';
import { VillageApiError } from '@ai-village/control-plane/contract';
import type { AuthProvider } from 'react-admin';
import { signedInUser, signIn, signOut } from './session';

/** Only these roles have anything to do in the console; the server enforces each right on its own. */
const CONSOLE_ROLES: readonly Role[] = ['moderator', 'admin'];

/** react-admin's authProvider over the village's accounts: the same sign-in, tokens and roles as the board. */
export const authProvider: AuthProvider = {
  async login({ username, password }: { username: string; password: string }) {
    try {
      const user = await signIn(username, password);
      if (!CONSOLE_ROLES.includes(user.role)) {
        await signOut();
        throw new Error('the console is for moderators and admins; ask an admin for the role');
      }
    } catch (error) {
      // The server's own words ("wrong handle, email or password", rate limits).
      if (error instanceof VillageApiError) throw new Error(error.body?.message ?? error.message, { cause: error });
      throw error;
    }
  },
  async logout() {
    await signOut();
  },
  async checkAuth() {
    const user = await signedInUser();
    if (!user || !CONSOLE_ROLES.includes(user.role)) throw new Error('sign in as a moderator or admin');
  },
  async checkError(error: { status?: number }) {
    // 401: the session is gone. 403 is a refusal of one action (its message is shown); stay signed in.
    if (error?.status === 401) throw new Error('the session has ended: sign in again');
  },
  async getIdentity() {
    const user = await signedInUser();
    if (!user) throw new Error('not signed in');
    return { id: user.id, fullName: `${user.displayName} (${user.role})` };
  },
  async getPermissions() {
    return (await signedInUser())?.role;
  },
};
