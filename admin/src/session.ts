// The signed-in person's session: a short-lived access token kept in memory only, renewed through
// `/api/auth/refresh` with the httpOnly refresh cookie (which this page's script never sees). A reload
// or a new tab starts from the cookie.
import {
  SessionSchema,
  VillageApiError,
  VillageClient,
  type Session,
  type User,
} from '@ai-village/control-plane/contract';

/** The API's origin: the page is served by the control plane itself. */
export const API_ORIGIN = window.location.origin;
/** Renew the access token when it has less than this left. */
const RENEW_BEFORE_MS = 60_000;

let current: { user: User; accessToken: string; expiresAt: number } | undefined;
let renewing: Promise<boolean> | undefined;

/** Without a token: sign-in, refresh and sign-out need none (the cookie carries the session). */
const anonymous = new VillageClient({ baseUrl: API_ORIGIN });

function keep(session: Session) {
  current = {
    user: session.user,
    accessToken: session.accessToken,
    expiresAt: Date.parse(session.accessTokenExpiresAt),
  };
}

export async function signIn(login: string, password: string): Promise<User> {
  keep(await anonymous.signIn({ login, password, session: 'cookie' }));
  return current!.user;
}

export async function signOut(): Promise<void> {
  current = undefined;
  await anonymous.signOut().catch(() => undefined);
}

/**
 * Renews the access token from the refresh cookie; false when there is no session. One renewal at a
 * time: the refresh token rotates, and sending the same one twice would end the session.
 */
export function renew(): Promise<boolean> {
  renewing ??= anonymous
    .refresh()
    .then((session) => {
      keep(SessionSchema.parse(session));
      return true;
    })
    .catch((error: unknown) => {
      if (error instanceof VillageApiError && [401, 403].includes(error.status)) {
        current = undefined;
        return false;
      }
      throw error;
    })
    .finally(() => (renewing = undefined));
  return renewing;
}

/** The person signed in, renewing the session first if the page was just opened. */
export async function signedInUser(): Promise<User | undefined> {
  if (!current && !(await renew())) return undefined;
  return current?.user;
}

/** The access token to send, renewed first when it is about to expire. */
export async function accessToken(): Promise<string | undefined> {
  if (current && current.expiresAt - Date.now() < RENEW_BEFORE_MS) await renew();
  return current?.accessToken;
}

/**
 * `fetch` with the person's bearer token. An answer that says the token expired (a sleeping laptop,
 * a clock that drifted) is retried once after renewing it.
 */
export async function authorizedFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const send = async () => {
    const headers = new Headers(init.headers);
    const token = await accessToken();
    if (token) headers.set('Authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  const response = await send();
  if (response.status !== 401 || !current) return response;
  const body = (await response
    .clone()
    .json()
    .catch(() => ({}))) as { message?: string };
  if (!(await renewedAfter(401, body.message))) return response;
  return send();
}

/** After a 401: renews the session when the answer says the access token expired; true if it did. */
export async function renewedAfter(status: number | undefined, message: string | undefined): Promise<boolean> {
  return status === 401 && current !== undefined && /expired/.test(message ?? '') && renew();
}

/** The typed client of the API, acting as the signed-in person: for everything beyond lists and forms. */
export const village = new VillageClient({ baseUrl: API_ORIGIN, fetch: authorizedFetch, timeoutMs: 30_000 });
