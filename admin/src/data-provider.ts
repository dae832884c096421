import simpleRestProvider from 'ra-data-simple-rest';
import {
  fetchUtils,
  HttpError,
  type DataProvider,
  type GetListParams,
  type GetListResult,
  type Identifier,
  type RaRecord,
} from 'react-admin';
import { accessToken, API_ORIGIN, renewedAfter } from './session';

/** Console resources whose API path is not their name. */
const PATHS: Record<string, string> = {
  deposits: 'payments/deposits',
  refunds: 'payments/refunds',
  'webhook-events': 'payments/webhook-events',
  verifications: 'economy/verifications',
  fleet: 'fleet/agents',
  'gpu-usage': 'gpu/usage',
  'paused-agents': 'llm/paused-agents',
  'llm-upstreams': 'llm/upstreams',
  'llm-models': 'llm/models',
};

/**
 * Resources the API lists whole (no paging, no GET by id) and writes with `PUT <path>/<name>`, which
 * creates or replaces: the LLM upstreams and the model prices. The console pages, sorts and reads one
 * from the whole list here, rather than asking the API for what it does not have.
 */
const NAMED = new Set(['llm-upstreams', 'llm-models']);

/** `fetchUtils.fetchJson` with the person's bearer token; retried once after an expired token is renewed. */
async function httpClient(url: string, options: fetchUtils.Options = {}) {
  const send = async () => {
    const token = await accessToken();
    return fetchUtils.fetchJson(url, { ...options, user: { authenticated: !!token, token: `Bearer ${token}` } });
  };
  try {
    return await send();
  } catch (error) {
    if (error instanceof HttpError && (await renewedAfter(error.status, error.message))) return send();
    throw error;
  }
}

const rest = simpleRestProvider(`${API_ORIGIN}/api`, httpClient);

const path = (resource: string) => PATHS[resource] ?? resource;

/** Every record of a NAMED resource, as the API sends it (untyped, like ra-data-simple-rest's). */
async function wholeList(resource: string) {
  const { json } = await httpClient(`${API_ORIGIN}/api/${path(resource)}`);
  return json as GetListResult['data'];
}

function sortedPage<R extends RaRecord>(records: R[], { pagination, sort }: GetListParams) {
  const { field = 'id', order = 'ASC' } = sort ?? {};
  const key = (record: R) => record[field] as string | number | boolean | null;
  const sorted = [...records].sort((a, b) => {
    const [x, y] = [key(a) ?? '', key(b) ?? ''];
    return (x < y ? -1 : x > y ? 1 : 0) * (order === 'DESC' ? -1 : 1);
  });
  const { page = 1, perPage = sorted.length } = pagination ?? {};
  return { data: sorted.slice((page - 1) * perPage, page * perPage), total: sorted.length };
}

async function oneNamed(resource: string, id: Identifier) {
  const record = (await wholeList(resource)).find((each) => each.id === id);
  if (!record) throw new HttpError(`there is no ${resource} named "${id}"`, 404);
  return record;
}

/** ra-data-simple-rest's reads and writes for the NAMED resources (create refuses a name in use: PUT would replace it). */
const named: Pick<DataProvider, 'getList' | 'getOne' | 'getMany' | 'create' | 'delete'> = {
  getList: async (resource, params) => sortedPage(await wholeList(resource), params),
  getOne: async (resource, params) => ({ data: await oneNamed(resource, params.id) }),
  getMany: async (resource, params) => ({
    data: (await wholeList(resource)).filter((record) => params.ids.includes(record.id)),
  }),
  create: async (resource, params) => {
    const { name, ...body } = params.data as { name: string };
    if ((await wholeList(resource)).some((record) => record.id === name)) {
      throw new HttpError(`"${name}" exists already: edit it instead`, 409);
    }
    return rest.update(path(resource), { id: name, data: body, previousData: { id: name } });
  },
  // 204 without a body: react-admin wants the record it removed.
  delete: async (resource, params) => {
    await rest.delete(path(resource), params);
    return { data: params.previousData ?? ({ id: params.id } as NonNullable<typeof params.previousData>) };
  },
};

/** ra-data-simple-rest against `/api`, with a few resources mapped to their paths. */
export const dataProvider: DataProvider = {
  getList: (resource, params) =>
    NAMED.has(resource) ? named.getList(resource, params) : rest.getList(path(resource), params),
  getOne: (resource, params) =>
    NAMED.has(resource) ? named.getOne(resource, params) : rest.getOne(path(resource), params),
  getMany: (resource, params) =>
    NAMED.has(resource) ? named.getMany(resource, params) : rest.getMany(path(resource), params),
  getManyReference: (resource, params) => rest.getManyReference(path(resource), params),
  create: (resource, params) =>
    NAMED.has(resource) ? named.create(resource, params) : rest.create(path(resource), params),
  update: (resource, params) => rest.update(path(resource), params),
  updateMany: (resource, params) => rest.updateMany(path(resource), params),
  delete: (resource, params) =>
    NAMED.has(resource) ? named.delete(resource, params) : rest.delete(path(resource), params),
  deleteMany: (resource, params) => rest.deleteMany(path(resource), params),
};
