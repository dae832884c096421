// Which model the LLM brain asks, and which it must leave alone for a while.
//
// The allowed models are what the gateway's `GET /v1/models` lists for the agent's tier (asked again
// every `refreshLoops` loops, after a 403 naming a model the tier no longer has, and every
// `relistLoops` loops while the list is empty). They are tried in order of preference, best first:
//   - `VILLAGE_AGENT_MODELS` when set (a comma list, most wanted first; only these are used, so an
//     operator can hold an agent to its cheap models);
//   - else the tier's `entitlements.models` reversed: the tier policy lists models cheapest first, each
//     tier adding its pricier ones at the end (`small`, `medium`, `large`), so the last is the best;
//     a listed model the tier does not name comes after those.
// A model that answers 402 (it cannot be afforded: the worst-case price is above the balance), an
// upstream's 429 (for as long as Retry-After says) or 5xx (no upstream answers) cools down, and the next,
// cheaper one is asked instead. The gateway's own 429s are the agent's limits, so they cool every model.
export type CoolingReason = 'unaffordable' | 'rate-limited' | 'no-upstream';

export interface ModelChoiceOptions {
  /** `VILLAGE_AGENT_MODELS`: the models to use, most wanted first. */
  preference?: readonly string[];
  /** Loops between two listings while models are listed. */
  refreshLoops?: number;
  /** Loops between two listings while none is. */
  relistLoops?: number;
}

export const MODEL_REFRESH_LOOPS = 30;
export const MODEL_RELIST_LOOPS = 5;

interface Cooling {
  reason: CoolingReason;
  until: number;
  /** For `unaffordable`: what was available then; more available ends the cooling at once. */
  available?: number;
}

export class ModelChoice {
  private readonly preference: readonly string[] | undefined;
  private readonly refreshLoops: number;
  private readonly relistLoops: number;
  private listed: string[] | undefined;
  private listedInLoop = Number.NEGATIVE_INFINITY;
  private listingWanted = true;
  /** Models refused with 403 since the last listing (the tier changed under us). */
  private readonly refused = new Set<string>();
  private readonly cooling = new Map<string, Cooling>();

  constructor(options: ModelChoiceOptions = {}) {
    this.preference = options.preference && options.preference.length > 0 ? options.preference : undefined;
    this.refreshLoops = options.refreshLoops ?? MODEL_REFRESH_LOOPS;
    this.relistLoops = options.relistLoops ?? MODEL_RELIST_LOOPS;
  }

  /** Whether to ask `GET /v1/models` before thinking this loop. */
  listingDue(loop: number): boolean {
    if (this.listingWanted) return true;
    const every = this.listed && this.listed.length > 0 ? this.refreshLoops : this.relistLoops;
    return loop - this.listedInLoop >= every;
  }

  /** The gateway's answer to `GET /v1/models`. */
  setListed(loop: number, models: readonly string[]): void {
    this.listed = [...models];
    this.listedInLoop = loop;
    this.listingWanted = false;
    this.refused.clear();
    for (const model of this.cooling.keys()) if (!this.listed.includes(model)) this.cooling.delete(model);
  }

  /** The listing failed (network, 5xx): ask again before the next thought. */
  listingFailed(): void {
    this.listingWanted = true;
  }

  /** The gateway refused `model` for the tier (403): never again until the next listing, which is due now. */
  refuse(model: string): void {
    this.refused.add(model);
    this.listingWanted = true;
  }

  /** What the gateway listed (undefined before the first listing). */
  listedModels(): readonly string[] | undefined {
    return this.listed;
  }

  /** The allowed models, best first (see the top of this file). */
  ordered(tierModels: readonly string[]): string[] {
    const listed = (this.listed ?? []).filter((model) => !this.refused.has(model));
    if (this.preference) return this.preference.filter((model) => listed.includes(model));
    const fromTier = [...tierModels].reverse().filter((model) => listed.includes(model));
    return [...new Set([...fromTier, ...listed])];
  }

  /** The ordered models that may be asked now: not cooling, or cooling but affordable again. */
  ready(ordered: readonly string[], now: number, available: number): string[] {
    return ordered.filter((model) => {
      const cooling = this.cooling.get(model);
      if (!cooling) return true;
      const over =
        now >= cooling.until ||
        (cooling.reason === 'unaffordable' && cooling.available !== undefined && available > cooling.available);
      if (over) this.cooling.delete(model);
      return over;
    });
  }

  coolDown(model: string, reason: CoolingReason, until: number, available?: number): void {
    this.cooling.set(model, { reason, until, ...(available === undefined ? {} : { available }) });
  }

  /** Why each of these models is cooling now, and until when. */
  coolingOf(models: readonly string[]): { model: string; reason: CoolingReason; until: number }[] {
    return models.flatMap((model) => {
      const cooling = this.cooling.get(model);
      return cooling ? [{ model, reason: cooling.reason, until: cooling.until }] : [];
    });
  }
}
