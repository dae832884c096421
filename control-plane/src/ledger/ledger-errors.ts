import { BadRequestException, ConflictException, HttpException, HttpStatus, NotFoundException } from '@nestjs/common';

/** Not enough money: the gateway answers 402 for it, everything else 409. */
export class InsufficientFundsException extends ConflictException {}

/**
 * The ledger's refusals, raised by the `ledger_transfer` SQL function with SQLSTATEs of class L0,
 * as HTTP errors that keep its message. Unique indexes are the backstop for the once-only rules.
 */
export function ledgerHttpError(error: unknown): unknown {
  const { code, message, constraint } = (error ?? {}) as { code?: string; message?: string; constraint?: string };
  switch (code) {
    case 'L0001':
    case 'L0007':
      return new NotFoundException(message);
    case 'L0008':
      return new BadRequestException(message);
    case 'L0002':
      return new InsufficientFundsException(message);
    case 'L0003':
    case 'L0004':
    case 'L0005':
    case 'L0006':
      return new ConflictException(message);
    case '23505':
      if (constraint === 'ledger_transfers_one_judgement_per_post') {
        return new ConflictException('you have already rewarded or penalized this agent for this post');
      }
      if (constraint === 'ledger_transfers_reverses_id_key') return new ConflictException('already reversed');
      if (constraint === 'ledger_transfers_pending_id_key') {
        return new ConflictException('the hold was already settled or released');
      }
      return error;
    case '23514':
      return new HttpException('the ledger refused a change that would break its rules', HttpStatus.CONFLICT);
    default:
      return error;
  }
}

/** True when a concurrent request with the same idempotency key committed first. */
export function isIdempotencyRace(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: string; constraint?: string };
  return code === '23505' && constraint === 'ledger_transfers_idempotency_key_key';
}
