import express, { type NextFunction, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { headerBytes, LIMITS, type FunctionSpec, type Service, fnKey } from '../model.js';
import { ThrottledError } from '../runtime/pool.js';
import { SessionGoneError } from '../runtime/sessions.js';
import type { AsyncRecord } from '../runtime/async/journal.js';
import { NonceCache } from './acs3.js';
import { acs3Auth, FC2_POP, FC3, fc3Router, sendPopError } from './api-pop.js';
import { describeDomain, describeFunction, describeService, describeTrigger, page } from './describe.js';
import { workbenchRoutes } from './workbench.js';
import { FcError, notFound, sendFcError } from './errors.js';
import { eventRoutes } from './event-routes.js';
import { customDomainRequest, domainOf, functionUrlOf, functionUrlRequest } from './custom-domains.js';
import { forwardHttp, httpBody } from './forward.js';
import type { GatewayDeps } from './deps.js';
import { invocationType, readInvocationBody, runInvocation } from './invocations.js';
import { verifySignature, type Queries } from './signature.js';

export type { GatewayDeps } from './deps.js';

// FC's APIs on one local port: 2016-08-15 (the invoke API, the read side of the management API,
// HTTP triggers under /proxy/), and the ACS3-signed 2021-04-06 and 2023-03-30 (api-pop.ts);
// custom domains and function URLs by Host. It asks the invoker for results and knows no backend.


const VERSION = '/2016-08-15';

/**
 * The request listener for the emulator's port. HTTP triggers take a fast path past express
 * (routing cost 7% of the gateway's CPU under load); everything else goes through the app.
 */
export function createGateway(deps: GatewayDeps): RequestListener {
  const app = createApp(deps);
  const nonces = new NonceCache();
  const proxyPrefix = `${VERSION}/proxy/`;
  return (req, res) => {
    const fnUrl = functionUrlOf(deps.template(), req.headers.host);
    if (fnUrl) {
      const requestId = randomUUID();
      functionUrlRequest({ ...deps, nonces }, fnUrl, req, res, requestId).catch((err: unknown) => handleError(deps, err, req, res, requestId));
      return;
    }
    const domain = domainOf(deps.template(), req.headers.host);
    if (domain) {
      const requestId = randomUUID();
      customDomainRequest(deps, domain, req, res, requestId).catch((err: unknown) => handleError(deps, err, req, res, requestId));
      return;
    }
    const invocation = req.method === 'POST' ? INVOKE_ROUTE.exec(req.url ?? '') : null;
    if (invocation) {
      const requestId = randomUUID();
      invokeApi(deps, req, res, requestId, invocation[1]!, invocation[2]!).catch((err: unknown) => handleError(deps, err, req, res, requestId));
      return;
    }
    if (!req.url?.startsWith(proxyPrefix)) return app(req, res);
    const requestId = randomUUID();
    httpTrigger(deps, req, res, requestId).catch((err: unknown) => handleError(deps, err, req, res, requestId));
  };
}

/** The invoke API, the other hot route, also past express. */
const INVOKE_ROUTE = /^\/2016-08-15\/services\/([^/?]+)\/functions\/([^/?]+)\/invocations(?:\?.*)?$/;

async function invokeApi(deps: GatewayDeps, req: IncomingMessage, res: ServerResponse, requestId: string, rawService: string, rawFunction: string): Promise<void> {
  if (deps.auth) verifySignature({ method: 'POST', path: unescapedPath(req.url ?? ''), headers: req.headers }, deps.credentials);
  const f = fn(deps, decodeSegment(rawService), decodeSegment(rawFunction));
  const event = await readInvocationBody(req, invocationType(req.headers));
  await runInvocation(deps, f, req, res, requestId, event, 'x-fc-stateful-async-invocation-id');
}


function handleError(deps: GatewayDeps, err: unknown, req: IncomingMessage, res: ServerResponse, requestId: string): void {
  const url = (req as Request).originalUrl ?? req.url ?? '';
  const send = url.startsWith(FC3) || url.startsWith(FC2_POP) ? sendPopError : sendFcError;
  if (deps.requestFailed) deps.requestFailed(url, err instanceof FcError ? err.status : err instanceof ThrottledError ? 429 : 500);
  if (err instanceof FcError) return send(res, err, requestId);
  if (err instanceof ThrottledError) return send(res, new FcError(429, 'ResourceThrottled', err.message), requestId);
  if (err instanceof SessionGoneError) return send(res, new FcError(400, 'SessionExpired', err.message), requestId);
  deps.log?.(`internal error on ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
  send(res, new FcError(500, 'InternalServerError', `fc-local internal error: ${(err as Error).message}`), requestId);
}

function createApp(deps: GatewayDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((_req, res, next) => {
    res.locals.requestId = randomUUID();
    next();
  });
  const signed = (req: Request, _res: Response, next: NextFunction) => {
    // 2021-04-06 requests reach the 2016-08-15 routes already checked (ACS3).
    if (deps.auth && !(req as Request & { popChecked?: boolean }).popChecked) {
      verifySignature({ method: req.method, path: unescapedPath(req.originalUrl), headers: req.headers }, deps.credentials);
    }
    next();
  };
  // FC 3.0's API, and FC 2.0's 2021-04-06 (the 2016-08-15 routes under ACS3 signatures).
  app.use(FC3, fc3Router(deps, () => deps.baseUrl?.() ?? ''));

  // The workbench (its token guards the injection API too when the bind is wide).
  if (deps.workbench) app.use('/_fc-local', workbenchRoutes(deps.workbench));
  // Injecting events invokes functions: it takes the same signature as the invoke API.
  app.use('/_fc-local/events', signed);
  if (deps.events) app.use(eventRoutes(deps.events));

  const api = express.Router();
  api.use(signed);
  // Express 5 hands a rejected promise to the error handler below.
  api.post('/services/:service/functions/:function/invocations', (req, res) => invoke(deps, req, res));
  api.get('/services', (req, res) => {
    // FC 3.0's functions (service '') are not services of the 2.0 API.
    const { items, nextToken } = page(deps.template().services.filter((s) => s.name !== ''), (s) => s.name, req.query);
    json(res, { services: items.map((s) => describeService(s, deps.times)), ...(nextToken ? { nextToken } : {}) });
  });
  api.get('/services/:service', (req, res) => json(res, describeService(service(deps, param(req, 'service')), deps.times)));
  api.get('/services/:service/functions', async (req, res) => {
    const svc = service(deps, param(req, 'service'));
    const { items, nextToken } = page(svc.functions, (f) => f.name, req.query);
    json(res, { functions: await Promise.all(items.map((f) => describeFunction(f, deps.times))), ...(nextToken ? { nextToken } : {}) });
  });
  api.get('/services/:service/functions/:function', async (req, res) =>
    json(res, await describeFunction(fn(deps, param(req, 'service'), param(req, 'function')), deps.times)),
  );
  api.get('/services/:service/functions/:function/triggers', (req, res) => {
    const f = fn(deps, param(req, 'service'), param(req, 'function'));
    const { items, nextToken } = page(f.triggers, (t) => t.name, req.query);
    json(res, { triggers: items.map((t) => describeTrigger(t, deps.times)), ...(nextToken ? { nextToken } : {}) });
  });
  api.get('/services/:service/functions/:function/triggers/:trigger', (req, res) => {
    const [s, f, t] = [param(req, 'service'), param(req, 'function'), param(req, 'trigger')];
    const trigger = fn(deps, s, f).triggers.find((x) => x.name === t);
    if (!trigger) throw notFound.trigger(s, f, t);
    json(res, describeTrigger(trigger, deps.times));
  });
  api.get('/services/:service/functions/:function/stateful-async-invocations', (req, res) => {
    const f = fn(deps, param(req, 'service'), param(req, 'function'));
    json(res, listInvocations(deps.async.list(f.service, f.name), req.query));
  });
  api.get('/services/:service/functions/:function/stateful-async-invocations/:id', (req, res) => {
    const f = fn(deps, param(req, 'service'), param(req, 'function'));
    const r = deps.async.get(param(req, 'id'));
    if (!r || r.fn !== `${fnKey(f)}`) {
      throw new FcError(404, 'StatefulAsyncInvocationNotFound', `Async invocation '${param(req, 'id')}' of '${fnKey(f)}' does not exist`);
    }
    json(res, describeInvocation(r, req.query.includePayload === 'true'));
  });
  api.get('/custom-domains', (req, res) => {
    const { items, nextToken } = page(deps.template().customDomains, (d) => d.domainName, req.query);
    json(res, { customDomains: items.map((d) => describeDomain(d, deps.times)), ...(nextToken ? { nextToken } : {}) });
  });
  api.get('/custom-domains/:domain', (req, res) => {
    const d = deps.template().customDomains.find((x) => x.domainName === param(req, 'domain'));
    if (!d) throw new FcError(404, 'DomainNameNotFound', `Custom domain '${param(req, 'domain')}' does not exist`);
    json(res, describeDomain(d, deps.times));
  });
  api.all('/services{/*rest}', (req) => {
    throw new FcError(
      req.method === 'GET' ? 404 : 501,
      req.method === 'GET' ? 'NotFound' : 'NotImplemented',
      req.method === 'GET'
        ? `No such resource: ${req.originalUrl}`
        : `fc-local serves the template: ${req.method} ${req.originalUrl} is not emulated; edit the template instead`,
    );
  });
  app.use(VERSION, api);
  const popChecked = (req: Request, _res: Response, next: NextFunction) => {
    (req as Request & { popChecked?: boolean }).popChecked = true;
    next();
  };
  app.use(FC2_POP, acs3Auth(deps), popChecked, api);

  app.use((req, _res, next) => next(new FcError(404, 'NotFound', `No route for ${req.method} ${req.originalUrl}`)));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if ((err as { type?: string }).type === 'entity.parse.failed') err = new FcError(400, 'InvalidArgument', 'Malformed request');
    handleError(deps, err, req, res, res.locals.requestId as string);
  });
  return app;
}

function param(req: Request, name: string): string {
  return String(req.params[name]);
}

function json(res: Response, body: unknown): void {
  res.set({ 'X-Fc-Request-Id': res.locals.requestId as string, 'Content-Type': 'application/json' }).send(JSON.stringify(body));
}

function unescapedPath(originalUrl: string): string {
  const path = originalUrl.split('?', 1)[0]!;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** `name` or `name.LATEST`: locally every service has the one LATEST version. */
function serviceName(raw: string): string {
  const [name, qualifier] = raw.split('.', 2) as [string, string | undefined];
  if (qualifier !== undefined && qualifier !== 'LATEST') {
    throw new FcError(404, 'AliasNotFound', `Qualifier '${qualifier}' of service '${name}' does not exist: fc-local serves LATEST only`);
  }
  return name;
}

function service(deps: GatewayDeps, raw: string): Service {
  const name = serviceName(raw);
  const svc = deps.template().services.find((s) => s.name === name);
  if (!svc) throw notFound.service(name);
  return svc;
}

function fn(deps: GatewayDeps, rawService: string, name: string): FunctionSpec {
  const svc = service(deps, rawService);
  const f = svc.functions.find((x) => x.name === name);
  if (!f) throw notFound.function(svc.name, name);
  return f;
}

async function invoke(deps: GatewayDeps, req: Request, res: Response): Promise<void> {
  const f = fn(deps, param(req, 'service'), param(req, 'function'));
  // Under 2021-04-06 the signature check has read the body already.
  const event = (req as Request & { rawBody?: Buffer }).rawBody ?? (await readInvocationBody(req, invocationType(req.headers)));
  await runInvocation(deps, f, req, res, res.locals.requestId as string, event, 'x-fc-stateful-async-invocation-id');
}

async function httpTrigger(deps: GatewayDeps, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
  const url = req.url ?? '/';
  const method = req.method ?? 'GET';
  const m = /^\/2016-08-15\/proxy\/([^/?]+)\/([^/?]+)(\/[^?]*)?(?:\?(.*))?$/.exec(url);
  if (!m) throw new FcError(404, 'NotFound', 'HTTP trigger URLs are /2016-08-15/proxy/{service}/{function}/[path]');
  const f = fn(deps, decodeSegment(m[1]!), decodeSegment(m[2]!));
  const trigger = f.triggers.find((t) => t.type === 'http');
  if (!trigger || trigger.type !== 'http') throw new FcError(404, 'TriggerNotFound', `Function '${fnKey(f)}' has no HTTP trigger`);
  if (!(trigger.config.methods as string[]).includes(method)) {
    throw new FcError(403, 'MethodNotAllowed', `Method ${method} is not allowed by HTTP trigger '${trigger.name}' (allowed: ${trigger.config.methods.join(', ')})`);
  }
  if (headerBytes(req.headers) > LIMITS.headerBytes) throw new FcError(400, 'InvalidArgument', `The request headers exceed ${LIMITS.headerBytes} bytes`);
  if (Buffer.byteLength(m[3] ?? '') + Buffer.byteLength(m[4] ?? '') > LIMITS.headerBytes) throw new FcError(400, 'InvalidArgument', `The request path exceeds ${LIMITS.headerBytes} bytes`);
  // FC 2.0's signature covers no body: a custom runtime's large upload streams in.
  const body = await httpBody(f, req, false);
  if (trigger.config.authType === 'function') {
    verifySignature({ method, path: unescapedPath(url), headers: req.headers, queries: queriesOf(m[4]) }, deps.credentials);
  }

  await forwardHttp(deps.invoker, f, req, res, url, body, requestId, (m[3] || '/') + (m[4] !== undefined ? `?${m[4]}` : ''));
}

/** FC 2.0's StatefulAsyncInvocation. */
function describeInvocation(r: AsyncRecord, includePayload: boolean): Record<string, unknown> {
  const [serviceName, functionName] = [r.fn.slice(0, r.fn.indexOf('/')), r.fn.slice(r.fn.indexOf('/') + 1)];
  return {
    serviceName,
    functionName,
    qualifier: 'LATEST',
    invocationId: r.id,
    requestId: r.requestId,
    status: r.status,
    startedTime: r.startedAt ?? r.acceptedAt,
    endTime: r.endedAt ?? 0,
    // Attempts made, less the first.
    alreadyRetriedTimes: Math.max(0, r.failedAttempts + (r.status === 'Succeeded' ? 1 : 0) - 1),
    destinationStatus: r.destinationStatus ?? '',
    invocationErrorMessage: r.status === 'Succeeded' ? '' : (r.error ?? ''),
    ...(includePayload ? { invocationPayload: r.event.toString('utf8') } : {}),
  };
}

function listInvocations(all: AsyncRecord[], q: Record<string, unknown>): { invocations: unknown[]; nextToken?: string } {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const limit = q.limit === undefined ? 50 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new FcError(400, 'InvalidArgument', `limit must be a whole number from 1 to 100 (got ${String(q.limit)})`);
  const status = str(q.status);
  const prefix = str(q.invocationIdPrefix);
  const begin = Number(str(q.startedTimeBegin) ?? 0);
  const end = Number(str(q.startedTimeEnd) ?? Infinity);
  let rows = all.filter((r) => (!status || r.status === status) && (!prefix || r.id.startsWith(prefix)) && r.acceptedAt >= begin && r.acceptedAt <= end);
  if (q.sortOrderByTime === 'desc') rows = rows.reverse();
  const start = Number(str(q.nextToken) ?? 0);
  const pageRows = rows.slice(start, start + limit);
  return {
    invocations: pageRows.map((r) => describeInvocation(r, q.includePayload === 'true')),
    ...(start + limit < rows.length ? { nextToken: String(start + limit) } : {}),
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new FcError(400, 'InvalidArgument', `Malformed percent-encoding in the request path: '${segment.slice(0, 100)}'`);
  }
}

function queriesOf(query: string | undefined): Queries {
  const q: Queries = {};
  for (const [k, v] of new URLSearchParams(query ?? '')) {
    const prev = q[k];
    q[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return q;
}
