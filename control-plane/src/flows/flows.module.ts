import { Module } from '@nestjs/common';
import { FlowStore } from './flow-store.js';
import { FlowsController } from './flows.controller.js';
import { FlowsRuntime } from './flows-runtime.service.js';

/** The embedded Node-RED: editor at /flows, flows in PostgreSQL, deploy history and rollback (docs/FLOWS.md). */
@Module({
  controllers: [FlowsController],
  providers: [FlowStore, FlowsRuntime],
  exports: [FlowsRuntime],
})
export class FlowsModule {}
