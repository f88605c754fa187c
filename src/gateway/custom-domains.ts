import type { IncomingMessage, ServerResponse } from 'node:http';
import { findFunction, headerBytes, LIMITS, localDomainNames, type CustomDomain, type DomainRoute, type FunctionSpec, type Template } from '../model.js';
import type { Invoker } from '../runtime/invoker.js';
import { forwardHttp, readBody } from './forward.js';
import { FcError } from './errors.js';

// Custom domains on the same port, chosen by the Host header: `example.com` (curl -H 'Host:
// example.com'), `example.com.localhost` (browsers and curl resolve *.localhost to loopback),
// and `<function>.<service>.localhost` for `auto` domains. Routes match as FC's do: an exact
// path first, then the longest `/prefix/*`; the rewrite rules (equal, wildcard, regex, in that
// order) give the path the function sees. A path no route takes is FC's 404.

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
  const body = await readBody(req, LIMITS.payloadBytes, () => new FcError(400, 'InvalidArgument', `The request body exceeds ${LIMITS.payloadBytes} bytes`));
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

export async function functionUrlRequest(deps: { invoker: Invoker }, f: FunctionSpec, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
  const trigger = f.triggers.find((t) => t.type === 'http');
  if (trigger?.type === 'http' && !(trigger.config.methods as string[]).includes(req.method ?? 'GET')) {
    throw new FcError(403, 'MethodNotAllowed', `Method ${req.method} is not allowed by HTTP trigger '${trigger.name}' (allowed: ${trigger.config.methods.join(', ')})`);
  }
  if (headerBytes(req.headers) > LIMITS.headerBytes) throw new FcError(400, 'InvalidArgument', `The request headers exceed ${LIMITS.headerBytes} bytes`);
  const body = await readBody(req, LIMITS.payloadBytes, () => new FcError(400, 'InvalidArgument', `The request body exceeds ${LIMITS.payloadBytes} bytes`));
  await forwardHttp(deps.invoker, f, req, res, req.url ?? '/', body, requestId);
}
