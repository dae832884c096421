import { HttpException, Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { CONFIG, type Config } from '../config/config.js';
import { RedisService } from '../redis/redis.service.js';

/** Failed sign-ins to one account, from anywhere, per 15 minutes: stops password guessing spread over many addresses. */
const FAILURES_PER_ACCOUNT = 10;

/**
 * Rate limits on signing in and up, counted in Redis so that every replica counts together. When
 * Redis cannot count, the request is refused (503): the limits protect accounts, so they fail closed.
 */
@Injectable()
export class AuthRateLimits {
  private readonly signInByAddress: RateLimiterRedis;
  private readonly failuresByAccount: RateLimiterRedis;
  private readonly signUpByAddress: RateLimiterRedis;

  constructor(@Inject(CONFIG) config: Config, redis: RedisService) {
    const limiter = (name: string, points: number, duration: number) =>
      new RateLimiterRedis({
        storeClient: redis.commands,
        keyPrefix: redis.key(`ratelimit:${name}`),
        points,
        duration,
      });
    this.signInByAddress = limiter('sign-in', config.VILLAGE_SIGN_IN_LIMIT, 15 * 60);
    this.failuresByAccount = limiter('sign-in-failures', FAILURES_PER_ACCOUNT, 15 * 60);
    this.signUpByAddress = limiter('sign-up', config.VILLAGE_SIGN_UP_LIMIT, 60 * 60);
  }

  async signIn(address: string, login: string, response: Response) {
    await take(this.signInByAddress, address, response, 'too many sign-in attempts from your address');
    const failures = await this.failuresByAccount.get(login).catch(unavailable);
    if (failures && failures.remainingPoints <= 0)
      refuse(failures, response, 'too many failed sign-ins to this account');
  }

  /** Counts a wrong password against the account. */
  async failedSignIn(login: string) {
    await this.failuresByAccount.penalty(login, 1).catch(unavailable);
  }

  async succeededSignIn(login: string) {
    await this.failuresByAccount.delete(login).catch(() => undefined);
  }

  signUp(address: string, response: Response) {
    return take(this.signUpByAddress, address, response, 'too many accounts created from your address');
  }
}

async function take(limiter: RateLimiterRedis, key: string, response: Response, what: string) {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) refuse(rejection, response, what);
    unavailable(rejection);
  }
}

function refuse(state: RateLimiterRes, response: Response, what: string): never {
  const seconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
  response.setHeader('Retry-After', String(seconds));
  throw new HttpException(`${what}; try again in ${seconds} s`, 429);
}

function unavailable(error: unknown): never {
  throw new ServiceUnavailableException(
    'signing in and up is unavailable for a moment (rate limits cannot be checked); try again',
    {
      cause: error,
    },
  );
}
