import { Inject, Injectable } from '@nestjs/common';
import type { ModelPrice, ModelPriceRequest } from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';

/** How long a replica trusts the price table it read. */
const CACHE_MS = 5_000;
const PER = 1_000_000;

/**
 * What models cost, in mills per million tokens: a row per model in `llm_models`, else the
 * configured default (VILLAGE_LLM_DEFAULT_PRICES). The one place a call's price is computed.
 */
@Injectable()
export class LlmPrices {
  private cached: { prices: Map<string, ModelPriceRequest>; until: number } | undefined;

  constructor(
    private readonly database: DatabaseService,
    private readonly audit: AuditService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** The price of a call in mills, rounded up (a call is never free by rounding). */
  async priceOf(model: string, promptTokens: number, completionTokens: number): Promise<number> {
    const price = (await this.prices()).get(model) ?? this.config.VILLAGE_LLM_DEFAULT_PRICES;
    return Math.ceil((promptTokens * price.promptPricePerMtok + completionTokens * price.completionPricePerMtok) / PER);
  }

  /** Every priced model, and the served ones that cost the default. */
  async list(served: Iterable<string>): Promise<ModelPrice[]> {
    const prices = await this.prices();
    const names = new Set([...prices.keys(), ...served]);
    return [...names].sort().map((name) => {
      const own = prices.get(name);
      return { id: name, name, ...(own ?? this.config.VILLAGE_LLM_DEFAULT_PRICES), isDefault: !own };
    });
  }

  async put(name: string, price: ModelPriceRequest, principal: Principal): Promise<ModelPrice> {
    await this.database.transaction(async (client) => {
      await client.query(
        `INSERT INTO llm_models (name, prompt_price_per_mtok, completion_price_per_mtok) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET prompt_price_per_mtok = $2, completion_price_per_mtok = $3, updated_at = now()`,
        [name, price.promptPricePerMtok, price.completionPricePerMtok],
      );
      await this.audit.record(client, {
        actor: principal,
        action: 'llm_model.priced',
        subject: { type: 'llm_model', id: name },
        after: price,
      });
    });
    this.cached = undefined;
    return { id: name, name, ...price, isDefault: false };
  }

  private async prices(): Promise<Map<string, ModelPriceRequest>> {
    if (this.cached && this.cached.until > Date.now()) return this.cached.prices;
    const { rows } = await this.database.query<{ name: string; prompt: string; completion: string }>(
      'SELECT name, prompt_price_per_mtok AS prompt, completion_price_per_mtok AS completion FROM llm_models',
    );
    const prices = new Map(
      rows.map((row) => [
        row.name,
        { promptPricePerMtok: Number(row.prompt), completionPricePerMtok: Number(row.completion) },
      ]),
    );
    this.cached = { prices, until: Date.now() + CACHE_MS };
    return prices;
  }
}
