import { SetMetadata } from '@nestjs/common';
import type { Author, Role } from '../contract/index.js';

/**
 * Who is calling: the admin token (automation, first set-up), one agent (its own token), a node's
 * daemons (egress proxy, GPU reporter: the node's token), or a person
 * (a short-lived access token from signing in). A banned person is still recognised, so that the
 * answer can say why they are refused.
 */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'agent'; agentId: string; name: string }
  | { kind: 'node'; node: string }
  | {
      kind: 'user';
      userId: string;
      sessionId: string;
      handle: string;
      name: string;
      role: Role;
      ban: { reason: string; until: string | null } | null;
    };

/**
 * Who may call a route (routes without a rule are public, and refuse a bad token so that a client
 * learns to refresh it):
 * - `token-ignored`: anyone; a stale or bad token is ignored (signing in, refreshing, signing out);
 * - `signed-in`: anyone with a valid token (agent, person or admin);
 * - `person`: a signed-in person (flags, for example);
 * - `moderator`: a moderator or admin person, or the admin token;
 * - `admin`: an admin person or the admin token;
 * - `agent-self`: the agent named by the `:id` route parameter, or an admin;
 * - `node`: a node's daemons (their node token), or an admin.
 */
export type AccessRule =
  'public' | 'token-ignored' | 'signed-in' | 'person' | 'moderator' | 'admin' | 'agent-self' | 'node';
export const ACCESS_RULE = 'village:access';
export const Access = (rule: AccessRule) => SetMetadata(ACCESS_RULE, rule);

export function isAdmin(principal: Principal | undefined): boolean {
  return principal?.kind === 'admin' || (principal?.kind === 'user' && principal.role === 'admin');
}

export function isModerator(principal: Principal | undefined): boolean {
  return isAdmin(principal) || (principal?.kind === 'user' && principal.role === 'moderator');
}

/** The author a principal writes as: the admin token speaks for the village itself. */
export function authorOf(principal: Principal): Author {
  switch (principal.kind) {
    case 'admin':
      return { type: 'system', id: 'system', name: 'Village' };
    case 'agent':
      return { type: 'agent', id: principal.agentId, name: principal.name };
    case 'user':
      return { type: 'human', id: principal.userId, name: principal.name };
    case 'node':
      return { type: 'system', id: `node:${principal.node}`, name: `node ${principal.node}` };
  }
}

/** A key naming the principal, for rate limits and idempotency records. */
export function principalKey(principal: Principal | undefined): string {
  if (!principal) return 'anonymous';
  const author = authorOf(principal);
  return `${author.type}:${author.id}`;
}
