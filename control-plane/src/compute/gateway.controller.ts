import { All, Body, Controller, Get, HttpCode, Post, Req, Res, UseFilters } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ChatCompletionRequestSchema, type ChatCompletionRequest } from '../contract/index.js';
import { Access, type Principal } from '../auth/principal.js';
import { GatewayService } from './gateway.service.js';
import { OpenAiError, OpenAiErrorsFilter } from './openai-errors.js';

type GatewayRequest = Request & { principal?: Principal };

/**
 * The OpenAI-compatible endpoints (`/v1`, outside `/api`): any OpenAI client works with the agent's
 * own token as its API key. Errors have OpenAI's shape.
 */
@Controller('v1')
@UseFilters(OpenAiErrorsFilter)
@Access('signed-in')
export class GatewayController {
  constructor(private readonly gateway: GatewayService) {}

  @Get('models')
  async models(@Req() request: GatewayRequest) {
    const agentId = agentOf(request);
    const models = await this.gateway.models(agentId);
    return {
      object: 'list',
      data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'village' })),
    };
  }

  @Post('chat/completions')
  @HttpCode(200)
  async chatCompletions(
    @Body() body: unknown,
    @Req() request: GatewayRequest,
    @Res() response: Response,
  ): Promise<void> {
    const agentId = agentOf(request);
    await this.gateway.complete(agentId, parseChatRequest(body), response);
  }

  /** Anything else under /v1: OpenAI's shape, naming what exists. */
  @All('*path')
  unknown(@Req() request: GatewayRequest): never {
    throw new OpenAiError(
      404,
      'unknown_url',
      `${request.method} ${request.path} is not a gateway route; there are GET /v1/models and POST /v1/chat/completions`,
    );
  }
}

function agentOf(request: GatewayRequest): string {
  const principal = request.principal;
  if (principal?.kind !== 'agent') {
    throw new OpenAiError(403, 'agents_only', "the gateway is for agents: use an agent's token as the API key");
  }
  return principal.agentId;
}

function parseChatRequest(body: unknown): ChatCompletionRequest {
  const parsed = ChatCompletionRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = issue.path.join('.') || null;
  throw new OpenAiError(
    400,
    'invalid_request',
    `invalid request: ${param ? `${param}: ` : ''}${issue.message}`,
    undefined,
    param,
  );
}
