import path from 'node:path';
import { allFunctions, fc3Name, fnKey, FORMAT_NAMES, functionUrl, localDomainNames, runtimeFamily, type Template, isContainer } from '../model.js';
import { triggersOfType } from '../events/dispatcher.js';
import { bucketOf } from '../events/oss-source.js';
import type { DebugTarget } from '../runtime/debug.js';

// What `start` prints once it serves: the format, the backend, auth, the routes and the event
// sources, so that a person can copy a URL and go.

const EMULATED_TRIGGERS = new Set(['http', 'timer', 'oss', 'log', 'cdn_events']);

export interface BannerFacts {
  file: string;
  template: Template;
  base: string;
  backend: string;
  auth: boolean;
  credentialsSource: string;
  concurrency: number;
  watch: boolean;
  ossRoot: string;
  logRoot: string;
  /** The local OSS's endpoint (path style). */
  ossEndpoint?: string;
  /** The backend's word on these functions (e.g. which image runs them). */
  backendNotes?: string[];
  debug?: DebugTarget;
  /** The workbench page's URL (with its token when the bind is wide). */
  workbench?: string;
}


/** One line per event source. */
export function eventSourceLines(tpl: Template, ossRoot: string, logRoot: string): string[] {
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  return [
    ...triggersOfType(tpl, 'timer').map(({ fn, trigger: t }) => `timer  ${fnKey(fn)}/${t.name}: ${t.config.cronExpression}${t.config.enable ? '' : ' (disabled)'}`),
    ...triggersOfType(tpl, 'oss').map(({ fn, trigger: t }) => `oss    ${fnKey(fn)}/${t.name}: files under ${rel(path.join(ossRoot, bucketOf(t) ?? '?'))}/`),
    ...triggersOfType(tpl, 'log').map(
      ({ fn, trigger: t }) =>
        `log    ${fnKey(fn)}/${t.name}: logstore ${t.config.sourceConfig.logstore} every ${t.config.jobConfig.triggerInterval}s (append to ${rel(path.join(logRoot, `${t.config.sourceConfig.logstore}.jsonl`))})`,
    ),
    ...triggersOfType(tpl, 'cdn_events').map(({ fn, trigger: t }) => `cdn    ${fnKey(fn)}/${t.name}: ${t.config.eventName} for ${Object.values(t.config.filter).flat().join(', ')}`),
    // Accepted in templates, with no local source: say so rather than stay silent.
    ...allFunctions(tpl).flatMap((fn) =>
      fn.triggers.filter((t) => !EMULATED_TRIGGERS.has(t.type)).map((t) => `${t.type} ${fnKey(fn)}/${t.name}: not emulated (invoke the function with its event instead)`),
    ),
  ];
}

export function printBanner(out: (l: string) => void, b: BannerFacts): void {
  out(`fc-local serving ${b.file} (${FORMAT_NAMES[b.template.format]} format, region ${b.template.region})`);
  out(`  backend      ${b.backend}`);
  for (const n of b.backendNotes ?? []) out(`               ${n}`);
  out(
    `  auth         ${b.auth ? `signed requests required for the API and authType=function triggers; credentials: ${b.credentialsSource}` : 'off (--no-auth): unsigned requests accepted'}`,
  );
  out(`  concurrency  ${b.concurrency} executions at once`);
  if (b.ossEndpoint) {
    const port = new URL(b.base).port;
    out(`  oss          ${b.ossEndpoint} (path style: /<bucket>/<key>), or http://<bucket>.oss-${b.template.region}.localhost:${port}; buckets are the folders of ${path.relative(process.cwd(), b.ossRoot) || '.'}/; ${b.auth ? 'V1-signed with the credentials above' : 'unsigned requests accepted'}`);
  }
  const notEmulated = allFunctions(b.template).filter((f) => runtimeFamily(f.runtime) === 'not-emulated');
  if (notEmulated.length) out(`  not emulated ${notEmulated.map((f) => `${fnKey(f)} (${f.runtime})`).join(', ')}: invoking them answers an error`);
  // Custom containers run on the Docker backend only.
  const containers = b.backend.startsWith('process') ? allFunctions(b.template).filter(isContainer) : [];
  if (containers.length) out(`  not served   ${containers.map((f) => `${fnKey(f)} (custom-container ${f.container?.image ?? ''})`).join(', ')}: custom containers run on the Docker backend only (--backend docker); invoking them answers an error`);
  if (b.debug) out(`  debug        ${b.debug.fn} starts under its debugger at its first request: attach to 127.0.0.1:${b.debug.port} (no time limits while debugging)`);
  if (b.workbench) out(`  workbench    ${b.workbench} (Prometheus metrics at ${b.base}/_fc-local/metrics)`);
  out(`  reload       ${b.watch ? 'on: saved code and template changes apply without a restart (--no-watch turns it off)' : 'off (--no-watch)'}`);
  out('');
  const rows: [string, string, string][] = [];
  for (const f of allFunctions(b.template)) {
    // FC 3.0's functions have no service: no FC 2.0 route; their HTTP trigger is a function URL.
    if (f.service) rows.push(['POST', `${b.base}/2016-08-15/services/${f.service}/functions/${f.name}/invocations`, `${fnKey(f)} (invoke API)`]);
    rows.push(['POST', `${b.base}/2023-03-30/functions/${fc3Name(f)}/invocations`, `${fnKey(f)} (invoke API 3.0)`]);
    for (const t of f.triggers) {
      if (t.type !== 'http') continue;
      const url = f.service ? `${b.base}/2016-08-15/proxy/${f.service}/${f.name}/` : functionUrl(f, b.base);
      rows.push([t.config.methods.join(','), url, `${fnKey(f)} http trigger '${t.name}' (${t.config.authType})`]);
    }
  }
  const w0 = Math.max(6, ...rows.map((r) => r[0].length));
  const w1 = Math.max(5, ...rows.map((r) => r[1].length));
  out(`  ${'METHOD'.padEnd(w0)}  ${'ROUTE'.padEnd(w1)}  FUNCTION`);
  for (const r of rows) out(`  ${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`);
  if (b.template.customDomains.length) {
    const port = new URL(b.base).port;
    out('');
    out(`  CUSTOM DOMAINS (or any of these names as the Host header on ${b.base})`);
    for (const d of b.template.customDomains) {
      const host = localDomainNames(d).find((n) => n.endsWith('.localhost')) ?? d.domainName;
      for (const r of d.routes) out(`  ${`http://${host}:${port}${r.path}`.padEnd(w1)}  ${r.serviceName}/${r.functionName}${r.methods?.length ? ` (${r.methods.join(',')})` : ''}`);
    }
  }
  const mcp = allFunctions(b.template).filter((f) => f.mcp);
  if (mcp.length) {
    out('');
    out('  MCP SERVERS (point an MCP client here)');
    for (const f of mcp) {
      const url = functionUrl(f, b.base).replace(/\/$/, '');
      const sse = f.mcp!.transport === 'streamable-http' ? [] : [`SSE ${url}/sse`];
      const streamable = f.mcp!.transport === 'sse' ? [] : [`Streamable HTTP ${url}/mcp`];
      out(`  ${fnKey(f)} (${f.mcp!.transport}${f.mcp!.transport === 'stdio' ? ", behind fc-local's bridge: a server process per session" : ''}): ${[...sse, ...streamable].join(', ')}`);
    }
  }
  const events = eventSourceLines(b.template, b.ossRoot, b.logRoot);
  if (events.length) {
    out('');
    out(`  EVENT SOURCES (inject with POST ${b.base}/_fc-local/events/{oss|log|cdn|timer} or fc-local events emit)`);
    for (const e of events) out(`  ${e}`);
  }
  out('');
  out(`fc-local listening on ${b.base} (Ctrl-C to stop)`);
}
