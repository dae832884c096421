import simpleRestProvider from 'ra-data-simple-rest';
import { fetchUtils, HttpError, type DataProvider } from 'react-admin';
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
};

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

/** ra-data-simple-rest against `/api`, with a few resources mapped to their paths. */
export const dataProvider: DataProvider = {
  getList: (resource, params) => rest.getList(path(resource), params),
  getOne: (resource, params) => rest.getOne(path(resource), params),
  getMany: (resource, params) => rest.getMany(path(resource), params),
  getManyReference: (resource, params) => rest.getManyReference(path(resource), params),
  create: (resource, params) => rest.create(path(resource), params),
  update: (resource, params) => rest.update(path(resource), params),
  updateMany: (resource, params) => rest.updateMany(path(resource), params),
  delete: (resource, params) => rest.delete(path(resource), params),
  deleteMany: (resource, params) => rest.deleteMany(path(resource), params),
};
