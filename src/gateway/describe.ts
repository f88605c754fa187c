import { createHash } from 'node:crypto';
import type { CustomDomain, FunctionSpec, Service, Trigger } from '../model.js';
import { codeInfo } from '../runtime/code-checksum.js';
import { FcError } from './errors.js';

// The management API's JSON, with FC's field names, and its paging.

const id = (...parts: string[]) => {
  const h = createHash('sha1').update(parts.join('/')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

export function describeService(s: Service, times: Times) {
  return {
    serviceName: s.name,
    serviceId: id('service', s.name),
    description: s.description ?? '',
    role: s.role ?? '',
    logConfig: { project: s.logConfig?.project ?? '', logstore: s.logConfig?.logstore ?? '' },
    vpcConfig: s.vpcConfig ?? { vpcId: '', vSwitchIds: [], securityGroupId: '' },
    internetAccess: s.internetAccess ?? true,
    ...times,
  };
}

export async function describeFunction(f: FunctionSpec, times: Times) {
  const code = await codeInfo(f.codeUri);
  return {
    functionId: id('function', f.service, f.name),
    functionName: f.name,
    description: f.description ?? '',
    runtime: f.runtime,
    handler: f.handler,
    timeout: f.timeout,
    initializer: f.initializer ?? '',
    initializationTimeout: f.initializationTimeout,
    memorySize: f.memorySize,
    codeSize: code.size,
    codeChecksum: code.checksum,
    environmentVariables: f.environmentVariables,
    instanceConcurrency: f.instanceConcurrency,
    ...times,
  };
}

export function describeTrigger(t: Trigger, times: Times) {
  return {
    triggerName: t.name,
    triggerType: t.type,
    triggerConfig: t.config,
    sourceArn: t.sourceArn ?? '',
    invocationRole: t.invocationRole ?? '',
    qualifier: t.qualifier ?? 'LATEST',
    ...times,
  };
}

export interface Times {
  createdTime: string;
  lastModifiedTime: string;
}

export interface PageQuery {
  limit?: unknown;
  nextToken?: unknown;
  prefix?: unknown;
  startKey?: unknown;
}

/** FC's list paging: sorted by name, `prefix` filters, `startKey`/`nextToken` start at a name. */
export function page<T>(items: T[], nameOf: (t: T) => string, q: PageQuery): { items: T[]; nextToken?: string } {
  const limitRaw = q.limit === undefined ? 20 : Number(q.limit);
  if (!Number.isInteger(limitRaw) || limitRaw < 1 || limitRaw > 100) {
    throw new FcError(400, 'InvalidArgument', `limit must be a whole number from 1 to 100 (got ${String(q.limit)})`);
  }
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const prefix = str(q.prefix);
  const start = str(q.nextToken) ?? str(q.startKey);
  const sorted = [...items].sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0));
  const matching = sorted.filter((t) => (!prefix || nameOf(t).startsWith(prefix)) && (!start || nameOf(t) >= start));
  const pageItems = matching.slice(0, limitRaw);
  const next = matching[limitRaw];
  return { items: pageItems, ...(next ? { nextToken: nameOf(next) } : {}) };
}

export function describeDomain(d: CustomDomain, times: Times) {
  return {
    domainName: d.domainName,
    accountId: '',
    protocol: d.protocol,
    apiVersion: '2016-08-15',
    routeConfig: { routes: d.routes.map((r) => ({ qualifier: 'LATEST', methods: [], ...r })) },
    certConfig: {},
    createdTime: times.createdTime,
    lastModifiedTime: times.lastModifiedTime,
  };
}
