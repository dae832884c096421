import type { Role } from '@ai-village/control-plane/contract';
import { usePermissions } from 'react-admin';

/**
 * Whether the signed-in person is an admin. The console hides what a moderator may not do; the
 * server refuses it anyway (403), so this is convenience, not protection.
 */
export function useIsAdmin(): boolean {
  const { permissions } = usePermissions<Role | undefined>();
  return permissions === 'admin';
}
