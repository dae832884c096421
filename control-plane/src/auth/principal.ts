import { SetMetadata } from '@nestjs/common';

/** Who is calling: the admin (VILLAGE_ADMIN_TOKEN) or one agent (its own token). */
export type Principal = { kind: 'admin' } | { kind: 'agent'; agentId: string };

export type AccessRule = 'public' | 'admin' | 'agent-self';
export const ACCESS_RULE = 'village:access';

/**
 * Who may call a route. `agent-self`: the agent named by the `:id` route parameter, or the admin.
 * Routes without a rule are public.
 */
export const Access = (rule: AccessRule) => SetMetadata(ACCESS_RULE, rule);
