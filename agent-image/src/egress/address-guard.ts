import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses an agent must not reach through a wildcard: private networks (the Docker bridge, the
 * site's LAN, cloud metadata), loopback, link-local, shared and reserved ranges. A host named exactly
 * in the allow-list may still resolve to one (a site's internal mirror, a test server on loopback).
 */
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return INTERNAL.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export function isLoopbackAddress(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** The addresses a host may be reached at, resolved once (both families, in the resolver's order). */
export interface ResolvedHost {
  addresses: ResolvedAddress[];
}

/**
 * Resolves a host once, for the connection to use (so a DNS answer cannot change between the check and
 * the connect). Refuses internal addresses unless `internalAllowed`.
 */
export async function resolveForEgress(host: string, internalAllowed: boolean): Promise<ResolvedHost | string> {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  let answers: { address: string; family: number }[];
  try {
    answers = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await lookup(bare, { all: true });
  } catch (error) {
    return `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  const usable = internalAllowed ? answers : answers.filter((answer) => !isInternalAddress(answer.address));
  if (usable.length === 0) {
    const listed = answers.map((answer) => answer.address).join(', ');
    return `${host} resolves only to internal addresses (${listed}), which the allow-list does not name`;
  }
  return {
    addresses: usable.map((answer) => ({ address: answer.address, family: answer.family === 6 ? 6 : 4 })),
  };
}

/**
 * A `lookup` for a connection that answers with the addresses already checked, never asking DNS again;
 * with `autoSelectFamily` Node tries them in turn (a name with an IPv6 and an IPv4 address whose server
 * listens on one only still connects).
 */
export function pinnedLookup(resolved: ResolvedHost): LookupFunction {
  return (_hostname, options, callback) => {
    const { addresses } = resolved;
    if ((options as { all?: boolean }).all) return void (callback as (...args: unknown[]) => void)(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  };
}
