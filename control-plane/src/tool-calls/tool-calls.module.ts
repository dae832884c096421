import { Module } from '@nestjs/common';
import { ToolCallsController } from './tool-calls.controller.js';
import { ToolCallsService } from './tool-calls.service.js';

/** The log of the tools agents run in their containers (docs/TOOLS.md). */
@Module({ controllers: [ToolCallsController], providers: [ToolCallsService], exports: [ToolCallsService] })
export class ToolCallsModule {}
