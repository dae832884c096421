import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { z } from 'zod';
import type { EgressRequest, NewWorldEvent } from '../contract/index.js';
import { EgressRequestBatchSchema, type EGRESS_REQUEST_SORT_FIELDS } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { listPage } from '../database/list-page.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';

type SortField = (typeof EGRESS_REQUEST_SORT_FIELDS)[number];
const LISTED = {
  table: 'egress_requests',
  sort: {
    id: 'id',
    startedAt: 'started_at',
    bytesIn: 'bytes_in',
    durationMs: 'duration_ms',
  } satisfies Record<SortField, string>,
  filter: {
    id: 'id',
    agentId: 'agent_id',
    node: 'node',
    host: 'host',
    method: 'method',
    allowed: 'allowed',
    status: 'status',
  },
};

interface RequestRow {
  id: string;
  agent_id: string;
  node: string;
  method: string;
  scheme: EgressRequest['scheme'];
  host: string;
  port: number;
  path: string;
  allowed: boolean;
  reason: string | null;
  status: number;
  bytes_out: string;
  bytes_in: string;
  secret_id: string | null;
  duration_ms: number;
  started_at: Date;
  created_at: Date;
}

/** The log of every outbound request agents made through their nodes' egress proxies. */
@Injectable()
export class EgressLogService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
  ) {}

  /**
   * Stores a batch from a node's proxy in one statement and puts each on the event stream. Requests of
   * agents that do not exist (any more) are skipped and counted, not refused: the rest still counts.
   */
  async record(
    node: string,
    batch: z.output<typeof EgressRequestBatchSchema>,
  ): Promise<{ recorded: number; skipped: number }> {
    const requests = batch.requests;
    const column = <K extends keyof (typeof requests)[number]>(key: K) => requests.map((request) => request[key]);
    const { rows } = await this.database.query<RequestRow>(
      `INSERT INTO egress_requests (agent_id, node, method, scheme, host, port, path, allowed, reason, status,
                                    bytes_out, bytes_in, secret_id, duration_ms, started_at)
       SELECT r.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],
                              $8::bool[], $9::text[], $10::int[], $11::bigint[], $12::bigint[], $13::bigint[],
                              $14::int[], $15::timestamptz[])
                AS r(agent_id, node, method, scheme, host, port, path, allowed, reason, status, bytes_out, bytes_in,
                     secret_id, duration_ms, started_at)
        WHERE EXISTS (SELECT 1 FROM agents a WHERE a.id = r.agent_id)
          AND (r.secret_id IS NULL OR EXISTS (SELECT 1 FROM egress_secrets s WHERE s.id = r.secret_id))
       RETURNING *`,
      [
        column('agentId'),
        requests.map(() => node),
        column('method'),
        column('scheme'),
        column('host'),
        column('port'),
        column('path'),
        column('allowed'),
        column('reason'),
        column('status'),
        column('bytesOut'),
        column('bytesIn'),
        column('secretId'),
        column('durationMs'),
        column('startedAt'),
      ],
    );
    await this.events.publish(rows.map(toEvent));
    return { recorded: rows.length, skipped: requests.length - rows.length };
  }

  list(query: ListQuery<SortField>): Promise<{ items: EgressRequest[]; total: number }> {
    return listPage(this.database, LISTED, query, toRequest);
  }

  async get(id: number): Promise<EgressRequest> {
    if (!Number.isSafeInteger(id) || id < 1)
      throw new BadRequestException('the id of an egress request is a positive integer');
    const { rows } = await this.database.query<RequestRow>('SELECT * FROM egress_requests WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundException(`there is no egress request ${id}`);
    return toRequest(rows[0]);
  }
}

function toRequest(row: RequestRow): EgressRequest {
  return {
    id: Number(row.id),
    agentId: row.agent_id,
    node: row.node,
    method: row.method,
    scheme: row.scheme,
    host: row.host,
    port: row.port,
    path: row.path,
    allowed: row.allowed,
    reason: row.reason,
    status: row.status,
    bytesOut: Number(row.bytes_out),
    bytesIn: Number(row.bytes_in),
    secretId: row.secret_id === null ? null : Number(row.secret_id),
    durationMs: row.duration_ms,
    startedAt: row.started_at.toISOString(),
    createdAt: row.created_at.toISOString(),
  };
}

function toEvent(row: RequestRow): NewWorldEvent {
  return {
    type: 'agent.egress',
    agentId: row.agent_id,
    requestId: Number(row.id),
    method: row.method,
    host: row.host,
    port: row.port,
    allowed: row.allowed,
    status: row.status,
    reason: row.reason,
  };
}
