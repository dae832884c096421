import { VillageApiError } from '@ai-village/control-plane/contract';
import { useState } from 'react';
import { useNotify, useRefresh } from 'react-admin';

/** What a refused request says, in the server's own words. */
export function messageOf(error: unknown): string {
  if (error instanceof VillageApiError) return error.body?.message ?? error.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs one of the API's actions (moderate, reverse, quarantine, ...) through the typed client: a
 * notice when it is done, the server's message when it refuses, and the page's data read again.
 */
export function useAction<Args extends unknown[]>(run: (...args: Args) => Promise<unknown>, done: string) {
  const notify = useNotify();
  const refresh = useRefresh();
  const [busy, setBusy] = useState(false);
  const act = async (...args: Args): Promise<boolean> => {
    setBusy(true);
    try {
      await run(...args);
      notify(done, { type: 'success' });
      refresh();
      return true;
    } catch (error) {
      notify(messageOf(error), { type: 'error' });
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { act, busy };
}
