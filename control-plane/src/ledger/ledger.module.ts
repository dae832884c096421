import { Module } from '@nestjs/common';
import { HoldExpiryService } from './hold-expiry.service.js';
import { LedgerReader } from './ledger-reader.service.js';
import { LedgerService } from './ledger.service.js';
import { LedgerVerifications } from './ledger-verifications.service.js';

/** The aiDollar ledger: accounts, transfers, holds, verification. Money moves only through here. */
@Module({
  providers: [LedgerService, LedgerReader, LedgerVerifications, HoldExpiryService],
  exports: [LedgerService, LedgerReader, LedgerVerifications],
})
export class LedgerModule {}
