import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { DepositsService } from './deposits.service.js';
import { PaymentsController, PaypalWebhookController } from './payments.controller.js';
import { PaymentsReader } from './payments-reader.service.js';
import { PaypalApi } from './paypal-api.service.js';
import { PaypalCertificates } from './paypal-certificates.service.js';
import { PaypalTransport } from './paypal-transport.js';
import { PaypalVerifier } from './paypal-verifier.service.js';
import { PaypalWebhooks } from './paypal-webhooks.service.js';
import { ReconciliationService } from './reconciliation.service.js';
import { WebhookQueue } from './webhook-queue.service.js';

/** Real-money deposits: entered by admins or reported by verified PayPal webhooks, credited once. */
@Module({
  imports: [LedgerModule],
  controllers: [PaypalWebhookController, PaymentsController],
  providers: [
    DepositsService,
    PaymentsReader,
    PaypalTransport,
    PaypalCertificates,
    PaypalApi,
    PaypalVerifier,
    PaypalWebhooks,
    WebhookQueue,
    ReconciliationService,
  ],
})
export class PaymentsModule {}
