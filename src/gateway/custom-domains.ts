import type { IncomingMessage, ServerResponse } from 'node:http';
import { findFunction, headerBytes, LIMITS, localDomainNames, runtimeFamily, type Credentials, type CustomDomain, type DomainRoute, type FunctionSpec, type Template } from '../model.js';
import type { Invoker } from '../runtime/invoker.js';
import { NonceCache, verifyAcs3 } from './acs3.js';
import { verifyJwt } from './jwt.js';
import { forwardHttp, httpBody, outcomeHeaders } from './forward.js';
import { FcError } from './errors.js';
import { sessionHandling } from './sessions.js';
import { httpCause } from './forward.js';

// Custom domains on the same port, chosen by the Host header: `example.com` (curl -H 'Host:
// example.com'), `example.com.localhost` (browsers and curl resolve *.localhost to loopback),
// and `<function>.<service>.localhost` for `auto` domains. Routes match as FC's do: an exact
// path first, then the longest `/prefix/*`; the rewrite rules (equal, wildcard, regex, in that
// order) give the path the function sees. A path no route takes is FC's 404.

const EMPTY = Buffer.alloc(0);

/** The custom domain a Host header names, if any. */
export function domainOf(tpl: Template, host: string | undefined): CustomDomain | undefined {
  if (!host || tpl.customDomains.length === 0) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  return tpl.customDomains.find((d) => localDomainNames(d).includes(name));
}

/** The route for a request: exact path first, then the longest prefix; methods must allow it. */
export function matchRoute(domain: CustomDomain, method: string, path: string): DomainRoute | undefined {
  const allows = (r: DomainRoute) => !r.methods?.length || r.methods.includes(method as never);
  const exact = domain.routes.find((r) => !r.path.endsWith('*') && r.path === path && allows(r));
  if (exact) return exact;
  return domain.routes
    .filter((r) => r.path.endsWith('*') && path.startsWith(r.path.slice(0, -1)) && allows(r))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

/** The path after the route's rewrite rules: the first rule that matches applies. */
export function rewritePath(route: DomainRoute, path: string): string {
  const rc = route.rewriteConfig;
  if (!rc) return path;
  for (const rule of rc.equalRules ?? []) if (rule.match === path) return rule.replacement;
  for (const rule of rc.wildcardRules ?? []) {
    const re = new RegExp(`^${rule.match.split('*').map(escapeRegex).join('(.*)')}$`);
    const m = re.exec(path);
    if (m) return rule.replacement.replace(/\$(\d+)/g, (_, i: string) => m[Number(i)] ?? '');
  }
  for (const rule of rc.regexRules ?? []) {
    const re = new RegExp(rule.match);
    if (re.test(path)) return path.replace(re, rule.replacement);
  }
  return path;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export async function customDomainRequest(deps: { template: () => Template; invoker: Invoker }, domain: CustomDomain, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const method = req.method ?? 'GET';
  // An `auto` domain's name says which function it is for.
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  const scoped = domain.domainName.toLowerCase() === 'auto' ? { ...domain, routes: domain.routes.filter((r) => `${r.functionName}.${r.serviceName}.localhost`.toLowerCase() === host) } : domain;
  const route = matchRoute(scoped, method, path);
  if (!route) throw new FcError(404, 'PathNotFound', `No route of custom domain ${domain.domainName} matches ${method} ${path}`);
  const f = findFunction(deps.template(), route.serviceName, route.functionName);
  if (!f) throw new FcError(404, 'FunctionNotFound', `Function '${route.serviceName}/${route.functionName}' does not exist`);
  if (headerBytes(req.headers) > LIMITS.headerBytes) throw new FcError(400, 'InvalidArgument', `The request headers exceed ${LIMITS.headerBytes} bytes`);
  // A custom runtime's large or chunked upload streams in; other bodies are read whole.
  const body = await httpBody(f, req, false);
  await forwardHttp(deps.invoker, f, req, res, rewritePath(route, path) + query, body, requestId);
}

/**
 * FC 3.0's functions (no service) with an HTTP trigger answer at `<function>.localhost`: the
 * function URL, whose path reaches the function as it is.
 */
export function functionUrlOf(tpl: Template, host: string | undefined): FunctionSpec | undefined {
  if (!host) return undefined;
  const m = /^([^.:]+)\.localhost(?::\d+)?$/i.exec(host);
  if (!m) return undefined;
  const f = tpl.services.find((s) => s.name === '')?.functions.find((x) => x.name.toLowerCase() === m[1]!.toLowerCase());
  return f?.triggers.some((t) => t.type === 'http') ? f : undefined;
}

export async function functionUrlRequest(
  deps: { invoker: Invoker; template: () => Template; auth: boolean; credentials: Credentials; nonces: NonceCache },
  f: FunctionSpec,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Promise<void> {
  const trigger = f.triggers.find((t) => t.type === 'http');
  if (trigger?.type === 'http' && !(trigger.config.methods as string[]).includes(req.method ?? 'GET')) {
    throw new FcError(403, 'MethodNotAllowed', `Method ${req.method} is not allowed by HTTP trigger '${trigger.name}' (allowed: ${trigger.config.methods.join(', ')})`);
  }
  if (headerBytes(req.headers) > LIMITS.headerBytes) throw new FcError(400, 'InvalidArgument', `The request headers exceed ${LIMITS.headerBytes} bytes`);
  // FC 3.0 signs HTTP triggers with authType function the way its SDKs sign API calls, body included.
  const signed = deps.auth && trigger?.type === 'http' && trigger.config.authType === 'function';
  const streamed = await httpBody(f, req, signed);
  const body = streamed ?? EMPTY;
  if (signed) {
    // An unsigned call to a trigger is unauthenticated (401); a wrong signature stays 403.
    if (!req.headers.authorization) throw new FcError(401, 'MissingAuthorization', `HTTP trigger '${trigger.name}' of ${f.name} takes ACS3-HMAC-SHA256 signed requests (authType function)`);
    verifyAcs3({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, deps.credentials, deps.nonces);
  }
  // A JWT trigger checks its tokens whatever --no-auth says: the keys are the function's own.
  if (trigger?.type === 'http' && trigger.config.authType === 'jwt') await verifyJwt(req, trigger.config);
  // Custom runtimes get the request as it came; built-in runtimes get FC 3.0's HTTP event.
  if (runtimeFamily(f.runtime) === 'custom') return forwardHttp(deps.invoker, f, req, res, req.url ?? '/', streamed, requestId);
  const tpl = deps.template();
  // Sessions first: a HEADER_FIELD session's new ID is in the event the function gets.
  const session = f.session ? sessionHandling(deps.invoker, f, req, res, req.url ?? '/') : undefined;
  let out;
  try {
    out = await deps.invoker.invokeEvent(f, Buffer.from(JSON.stringify(httpEvent(req, body, requestId, tpl.accountId))), requestId, 'http', { session: session?.request, cause: { what: `${req.method ?? 'GET'} ${req.url ?? '/'}`, ...httpCause(req) } });
  } finally {
    session?.done?.();
  }
  if (out.errorType) {
    res.writeHead(502, { ...(await outcomeHeaders(f, out)), 'Content-Type': 'application/json' });
    res.end(out.body);
    return;
  }
  const answer = httpAnswer(out.body);
  res.writeHead(answer.statusCode, { ...answer.headers, 'x-fc-request-id': requestId });
  res.end(req.method === 'HEAD' ? undefined : answer.body);
}

const TEXT = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

/** FC 3.0's HTTP trigger event for built-in runtimes. */
export function httpEvent(req: IncomingMessage, body: Buffer, requestId: string, accountId: string): Record<string, unknown> {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k.startsWith('x-fc-')) continue;
    // FC gives header names in their canonical form (Content-Type).
    headers[k.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase())] = Array.isArray(v) ? v.join(',') : v;
  }
  const text = body.length === 0 || TEXT.test(String(req.headers['content-type'] ?? ''));
  const host = String(req.headers.host ?? '');
  const now = new Date();
  return {
    version: 'v1',
    rawPath: url.pathname,
    headers,
    queryParameters: Object.fromEntries(url.searchParams),
    body: text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !text,
    requestContext: {
      accountId,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? '',
      http: { method: req.method ?? 'GET', path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '', userAgent: String(req.headers['user-agent'] ?? '') },
      requestId,
      time: now.toISOString(),
      timeEpoch: String(now.getTime()),
    },
  };
}

/** The HTTP answer of an event handler: {statusCode, headers, body, isBase64Encoded}, or any value as a 200 body. */
export function httpAnswer(result: Buffer): { statusCode: number; headers: Record<string, string>; body: Buffer } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && typeof (parsed as { statusCode?: unknown }).statusCode === 'number') {
    const p = parsed as { statusCode: number; headers?: Record<string, unknown>; body?: unknown; isBase64Encoded?: boolean };
    const headers = Object.fromEntries(Object.entries(p.headers ?? {}).map(([k, v]) => [k, String(v)]));
    const raw = p.body === undefined || p.body === null ? '' : typeof p.body === 'string' ? p.body : JSON.stringify(p.body);
    return { statusCode: p.statusCode, headers, body: p.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw) };
  }
  return { statusCode: 200, headers: {}, body: result };
}
