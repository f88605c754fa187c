import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { allFunctions, fc3Name, findFunction, functionUrl, LIMITS, type CustomDomain, type FunctionSpec, type SessionAffinity, type Template, type Trigger } from '../model.js';
import { codeInfo } from '../runtime/code-checksum.js';
import { NonceCache, verifyAcs3 } from './acs3.js';
import { page, type Times } from './describe.js';
import { FcError } from './errors.js';
import { readBody } from './forward.js';
import type { GatewayDeps } from './deps.js';
import { invocationType, runInvocation } from './invocations.js';
import { sessionRoutes } from './session-api.js';

// The APIs of today's SDKs, signed with ACS3-HMAC-SHA256: FC 3.0's 2023-03-30 (functions by
// name, no service; FC 2.0 functions appear as `<service>$<function>`, as FC 3.0 shows functions
// made through the 2.0 API) and FC 2.0's 2021-04-06, which is 2016-08-15 under another prefix.
// Their errors are POP's JSON: {Code, Message, RequestId}.

export const FC3 = '/2023-03-30';
export const FC2_POP = '/2021-04-06';

export function byFc3Name(tpl: Template, name: string): FunctionSpec | undefined {
  const i = name.indexOf('$');
  return i < 0 ? findFunction(tpl, '', name) : findFunction(tpl, name.slice(0, i), name.slice(i + 1));
}

export function sendPopError(res: ServerResponse, err: FcError, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(err.status, { 'x-fc-request-id': requestId, 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ Code: err.code, Message: err.message, RequestId: requestId }));
}

/** Reads the body and checks the signature of every request under these prefixes. */
export function acs3Auth(deps: Pick<GatewayDeps, 'auth' | 'credentials'>): express.RequestHandler {
  const nonces = new NonceCache();
  return (req, _res, next) => {
    const limit = invocationType(req.headers) === 'async' ? LIMITS.asyncPayloadBytes : LIMITS.payloadBytes;
    readBody(req, limit, () => new FcError(413, 'EntityTooLarge', `The payload exceeds ${limit} bytes`))
      .then((body) => {
        (req as Request & { rawBody?: Buffer }).rawBody = body;
        if (deps.auth) verifyAcs3({ method: req.method, url: req.originalUrl, headers: req.headers, body }, deps.credentials, nonces);
        next();
      })
      .catch(next);
  };
}

const rawBody = (req: Request) => (req as Request & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0);

function describeFc3Function(tpl: Template, f: FunctionSpec, times: Times, checksum: string, size: number) {
  return {
    functionName: fc3Name(f),
    functionId: `${fc3Name(f)}`,
    functionArn: `acs:fc:${tpl.region}:${tpl.accountId}:functions/${fc3Name(f)}`,
    description: f.description ?? '',
    runtime: f.runtime,
    handler: f.handler,
    timeout: f.timeout,
    memorySize: f.memorySize,
    codeChecksum: checksum,
    codeSize: size,
    environmentVariables: f.environmentVariables,
    instanceConcurrency: f.instanceConcurrency,
    ...(f.initializer ? { instanceLifecycleConfig: { initializer: { handler: f.initializer, timeout: f.initializationTimeout } } } : {}),
    ...(f.customRuntimeConfig ? { customRuntimeConfig: { ...f.customRuntimeConfig, port: f.caPort } } : {}),
    layers: f.layers.map((l) => ({ arn: l.arn })),
    sessionAffinity: f.session?.type ?? 'NONE',
    ...(f.session ? { sessionAffinityConfig: JSON.stringify(sessionAffinityConfig(f.session)) } : {}),
    ...(f.session?.exclusive ? { instanceIsolationMode: 'SESSION_EXCLUSIVE' } : {}),
    state: 'Active',
    lastUpdateStatus: 'Successful',
    createdTime: times.createdTime,
    lastModifiedTime: times.lastModifiedTime,
  };
}

/** sessionAffinityConfig as FC answers it: JSON text of the type's own fields. */
function sessionAffinityConfig(s: SessionAffinity): Record<string, unknown> {
  if (s.type === 'MCP_SSE') return { sseEndpointPath: s.ssePath, sessionConcurrencyPerInstance: s.perInstance };
  if (s.type === 'MCP_STREAMABLE_HTTP') return { sessionConcurrencyPerInstance: s.perInstance };
  return {
    ...(s.headerName ? { affinityHeaderFieldName: s.headerName } : {}),
    sessionConcurrencyPerInstance: s.perInstance,
    sessionIdleTimeoutInSeconds: s.idleTimeoutSeconds,
    sessionTTLInSeconds: s.ttlSeconds,
    disableSessionIdReuse: s.disableIdReuse,
  };
}

function describeFc3Trigger(f: FunctionSpec, t: Trigger, times: Times, base: string) {
  return {
    triggerName: t.name,
    triggerType: t.type,
    triggerId: `${fc3Name(f)}/${t.name}`,
    // FC 3.0 answers the config as a JSON string.
    triggerConfig: JSON.stringify(t.config),
    qualifier: t.qualifier ?? 'LATEST',
    sourceArn: t.sourceArn ?? '',
    invocationRole: t.invocationRole ?? '',
    status: 'Ready',
    createdTime: times.createdTime,
    lastModifiedTime: times.lastModifiedTime,
    ...(t.type === 'http' && !f.service && base ? { httpTrigger: { urlInternet: functionUrl(f, base), urlIntranet: functionUrl(f, base) } } : {}),
  };
}

function describeFc3Domain(d: CustomDomain, times: Times) {
  return {
    domainName: d.domainName,
    protocol: d.protocol,
    apiVersion: '2023-03-30',
    routeConfig: { routes: d.routes.map((r) => ({ path: r.path, functionName: r.serviceName ? `${r.serviceName}$${r.functionName}` : r.functionName, qualifier: r.qualifier ?? 'LATEST', methods: r.methods ?? [], rewriteConfig: r.rewriteConfig ?? {} })) },
    createdTime: times.createdTime,
    lastModifiedTime: times.lastModifiedTime,
  };
}

export function fc3Router(deps: GatewayDeps, baseUrl: () => string): express.Router {
  const r = express.Router();
  r.use(acs3Auth(deps));
  const fnOf = (req: Request) => {
    const name = String(req.params.name);
    const f = byFc3Name(deps.template(), name);
    if (!f) throw new FcError(404, 'FunctionNotFound', `Function '${name}' does not exist`);
    const q = req.query.qualifier;
    if (q !== undefined && q !== 'LATEST') throw new FcError(404, 'AliasNotFound', `Qualifier '${String(q)}' does not exist: fc-local serves LATEST only`);
    return f;
  };
  const json = (res: Response, body: unknown) => res.set({ 'x-fc-request-id': res.locals.requestId as string, 'Content-Type': 'application/json' }).send(JSON.stringify(body));

  sessionRoutes(deps, r, fnOf, json);
  r.post('/functions/:name/invocations', async (req, res) => {
    await runInvocation(deps, fnOf(req), req, res, res.locals.requestId as string, rawBody(req), 'x-fc-async-task-id');
  });
  r.get('/functions', async (req, res) => {
    const tpl = deps.template();
    const { items, nextToken } = page(allFunctions(tpl), fc3Name, req.query);
    const functions = await Promise.all(items.map(async (f) => ({ f, info: await codeInfo(f.codeUri) })));
    json(res, { functions: functions.map(({ f, info }) => describeFc3Function(tpl, f, deps.times, info.checksum, info.size)), ...(nextToken ? { nextToken } : {}) });
  });
  r.get('/functions/:name', async (req, res) => {
    const f = fnOf(req);
    const info = await codeInfo(f.codeUri);
    json(res, describeFc3Function(deps.template(), f, deps.times, info.checksum, info.size));
  });
  r.get('/functions/:name/triggers', (req, res) => {
    const f = fnOf(req);
    const { items, nextToken } = page(f.triggers, (t) => t.name, req.query);
    json(res, { triggers: items.map((t) => describeFc3Trigger(f, t, deps.times, baseUrl())), ...(nextToken ? { nextToken } : {}) });
  });
  r.get('/functions/:name/triggers/:trigger', (req, res) => {
    const f = fnOf(req);
    const t = f.triggers.find((x) => x.name === req.params.trigger);
    if (!t) throw new FcError(404, 'TriggerNotFound', `Trigger '${String(req.params.trigger)}' of '${fc3Name(f)}' does not exist`);
    json(res, describeFc3Trigger(f, t, deps.times, baseUrl()));
  });
  r.get('/custom-domains', (req, res) => {
    const { items, nextToken } = page(deps.template().customDomains, (d) => d.domainName, req.query);
    json(res, { customDomains: items.map((d) => describeFc3Domain(d, deps.times)), ...(nextToken ? { nextToken } : {}) });
  });
  r.get('/custom-domains/:domain', (req, res) => {
    const d = deps.template().customDomains.find((x) => x.domainName === req.params.domain);
    if (!d) throw new FcError(404, 'DomainNameNotFound', `Custom domain '${String(req.params.domain)}' does not exist`);
    json(res, describeFc3Domain(d, deps.times));
  });
  r.all('/{*rest}', (req) => {
    throw new FcError(req.method === 'GET' ? 404 : 501, req.method === 'GET' ? 'NotFound' : 'NotImplemented', `${req.method} ${req.originalUrl} is not emulated: fc-local serves the template; edit it instead`);
  });
  return r;
}

/** Errors under the POP prefixes are POP's JSON. */
export function popErrors(handle: (err: unknown, req: IncomingMessage, res: ServerResponse, requestId: string) => void) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => handle(err, req, res, res.locals.requestId as string);
}
