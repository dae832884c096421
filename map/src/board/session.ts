// Who is signed in on this page. The access token lives in memory only; the refresh token is an
// httpOnly cookie the script never sees, so a reload signs the person back in through `restore()`.
// The access token is renewed shortly before it expires and, failing that, once on a 401.
import {
  VillageApiError,
  type Session as SessionAnswer,
  type SignUpRequest,
  type User,
  type VillageClient,
} from '@ai-village/control-plane/contract';

/** Renew this long before the access token expires, so a slow answer or a sleepy timer is no problem. */
const RENEW_AHEAD_MS = 60_000;
const MIN_RENEW_MS = 5_000;
/** After a failed renewal that was not a refusal (the server was unreachable), try again this soon. */
const RETRY_RENEW_MS = 30_000;

export class Session {
  private currentUser: User | null = null;
  private accessToken: string | undefined;
  private expiresAt = 0;
  private renewTimer = 0;
  private renewing: Promise<boolean> | null = null;
  private readonly listeners = new Set<(user: User | null) => void>();
  private readonly renewListeners = new Set<() => void>();

  constructor(readonly client: VillageClient) {}

  get user(): User | null {
    return this.currentUser;
  }

  get moderator(): boolean {
    return this.currentUser?.role === 'moderator' || this.currentUser?.role === 'admin';
  }

  /** Moderators, and authors, still read what a moderator hid. */
  canReadHidden(author: { type: string; id: string }): boolean {
    return this.moderator || (author.type === 'human' && author.id === this.currentUser?.id);
  }

  /** The access token for the socket's handshake, unless it has lapsed (the server would ignore it). */
  get token(): string | undefined {
    return Date.now() < this.expiresAt ? this.accessToken : undefined;
  }

  /** Called when the person signs in or out (not on a mere token renewal). */
  onChange(listener: (user: User | null) => void): void {
    this.listeners.add(listener);
  }

  /** Called on every fresh access token, renewals included. */
  onRenew(listener: () => void): void {
    this.renewListeners.add(listener);
  }

  /** On load: the refresh cookie, if the browser has one, gives a fresh access token. */
  async restore(): Promise<void> {
    await this.renew();
  }

  async signIn(login: string, password: string): Promise<User> {
    return this.start(await this.client.signIn({ login, password, session: 'cookie' }));
  }

  async signUp(request: Omit<SignUpRequest, 'session'>): Promise<User> {
    return this.start(await this.client.signUp({ ...request, session: 'cookie' }));
  }

  async signOut(): Promise<void> {
    try {
      await this.client.signOut();
    } finally {
      // Signed out here even if the server could not be told: the token is gone from this page.
      this.set(null);
    }
  }

  /** Runs an API call; on a 401 while signed in, renews the access token once and tries again. */
  async call<T>(request: (client: VillageClient) => Promise<T>): Promise<T> {
    try {
      return await request(this.client);
    } catch (error) {
      if (!(error instanceof VillageApiError) || error.status !== 401 || !this.currentUser) throw error;
      if (!(await this.renew())) throw error;
      return request(this.client);
    }
  }

  private start(answer: SessionAnswer): User {
    this.set(answer);
    return answer.user;
  }

  /** One renewal at a time; true when a fresh access token is in. */
  private renew(): Promise<boolean> {
    this.renewing ??= this.client
      .refresh()
      .then((answer) => {
        this.set(answer);
        return true;
      })
      .catch((error: unknown) => {
        if (error instanceof VillageApiError && (error.status === 401 || error.status === 403)) {
          // No session (never signed in, signed out elsewhere, or banned).
          this.set(null);
        } else {
          console.warn('could not renew the sign-in', error);
          if (this.currentUser) this.schedule(RETRY_RENEW_MS);
        }
        return false;
      })
      .finally(() => (this.renewing = null));
    return this.renewing;
  }

  private set(answer: SessionAnswer | null): void {
    const before = this.currentUser;
    this.currentUser = answer?.user ?? null;
    this.accessToken = answer?.accessToken;
    this.client.setToken(this.accessToken);
    window.clearTimeout(this.renewTimer);
    this.expiresAt = 0;
    if (answer) {
      const lifetime = Date.parse(answer.accessTokenExpiresAt) - Date.now();
      // Expired on arrival means this computer's clock is off: trust the token until the next renewal.
      this.expiresAt = lifetime > 0 ? Date.now() + lifetime : Infinity;
      this.schedule(
        lifetime > 2 * RENEW_AHEAD_MS ? lifetime - RENEW_AHEAD_MS : lifetime > 0 ? lifetime * 0.8 : RETRY_RENEW_MS,
      );
    }
    const after = this.currentUser;
    if (before?.id !== after?.id || before?.role !== after?.role) {
      for (const listener of this.listeners) listener(after);
    }
    if (answer) for (const listener of this.renewListeners) listener();
  }

  private schedule(delayMs: number): void {
    window.clearTimeout(this.renewTimer);
    this.renewTimer = window.setTimeout(() => void this.renew(), Math.max(MIN_RENEW_MS, delayMs));
  }
}
