import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type * as z from 'zod';
import { DEFAULT_ASYNC_CONFIG, fnKey, runtimeFamily, SESSION_DEFAULTS, type ContainerSpec, type FunctionSpec, type Service, type SessionAffinity, type Template, type Trigger } from '../model.js';
import { funcraftPath, funcraftToFc, isFuncraftDocument } from './funcraft.js';
import { loadCredentials } from './profile.js';
import { isServerlessDevsDocument, serverlessDevsToFc } from './serverless-devs.js';
import { NAME_RE, NAME_RULE, templateSchema, type RawTemplate } from './schema.js';
import { YamlSource, type TemplateError, type YamlPath } from './source.js';

export const DEFAULT_TEMPLATE_NAMES = ['fc.yml', 'fc.yaml', 'template.yml', 'template.yaml', 's.yaml', 's.yml'];

export interface LoadResult {
  template?: Template;
  errors: TemplateError[];
  /** Things that load but that the user should know (e.g. a runtime fc-local does not run). */
  warnings?: TemplateError[];
}

export class TemplateNotFoundError extends Error {}

/** `-t FILE` if given, else the first default name that exists in `cwd`. */
export function findTemplate(cwd: string, explicit?: string): string {
  if (explicit) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) throw new TemplateNotFoundError(`template ${explicit} does not exist`);
    return file;
  }
  for (const name of DEFAULT_TEMPLATE_NAMES) {
    const file = path.join(cwd, name);
    if (existsSync(file)) return file;
  }
  throw new TemplateNotFoundError(
    `no template found in ${cwd} (looked for ${DEFAULT_TEMPLATE_NAMES.join(', ')}); pass one with -t FILE`,
  );
}

export function loadTemplate(file: string): LoadResult {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    return { errors: [{ file: abs, line: 1, col: 1, message: `cannot read template: ${(err as Error).message}` }] };
  }
  return loadTemplateText(abs, text);
}

/**
 * fc.yml's top-level `functions:` are FC 3.0 functions (no service): the model keeps them under
 * the service '', as it does those of s.yaml's fc3 component.
 */
function fc3Functions(doc: Record<string, unknown>): unknown {
  if (!('functions' in doc)) return doc;
  const { functions, ...rest } = doc;
  const services = typeof rest.services === 'object' && rest.services !== null ? rest.services : {};
  return { ...rest, services: { ...services, '': { functions } } };
}

/** Errors about FC 3.0 functions point at fc.yml's top-level `functions:`. */
function fcPath(p: YamlPath): YamlPath {
  return p[0] === 'services' && p[1] === '' ? p.slice(2) : p;
}

/** fc-local.json's `layers`: layer ARN -> a local folder or zip (ARNs cannot be fetched here). */
function readLayerMap(dir: string): Record<string, string> {
  try {
    const cfg = JSON.parse(readFileSync(path.join(dir, 'fc-local.json'), 'utf8')) as { layers?: Record<string, string> };
    return cfg.layers ?? {};
  } catch {
    return {};
  }
}

/** `${config('...')}` of s.yaml: the local profile's values. */
function localConfig(key: string): string | undefined {
  const c = loadCredentials();
  const values: Record<string, string | undefined> = {
    AccountID: c.accountId ?? '1234567890123456',
    AccessKeyID: c.accessKeyId,
    AccessKeySecret: c.accessKeySecret,
    SecurityToken: c.securityToken,
    Region: c.region,
  };
  return values[key];
}

export function loadTemplateText(file: string, text: string): LoadResult {
  const display = path.relative(process.cwd(), file) || file;
  const source = new YamlSource(display, text);
  const syntax = source.syntaxErrors();
  if (syntax.length) return { errors: syntax };

  const loaded = source.toJS();
  if ('error' in loaded) return { errors: [loaded.error] };
  const doc = loaded.value;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { errors: [source.errorAt([], 'a template is a YAML map with `services:` (fc.yml) or `Resources:` (Funcraft)')] };
  }
  const funcraft = isFuncraftDocument(doc);
  const sdevs = !funcraft && isServerlessDevsDocument(doc) ? serverlessDevsToFc(doc as Record<string, unknown>, file, localConfig) : undefined;
  const raw = funcraft ? funcraftToFc(doc as Record<string, unknown>) : sdevs ? sdevs.raw : fc3Functions(doc as Record<string, unknown>);
  const toSource = funcraft ? funcraftPath : sdevs ? sdevs.sourcePath : fcPath;
  const at = (p: YamlPath, message: string, atKey = false) => source.errorAt(toSource(p), message, atKey);
  const format: Template['format'] = funcraft ? 'funcraft' : sdevs ? 'serverless-devs' : 'fc';

  const entities = checkEntities(raw, path.dirname(file), at);
  const errors = [...(sdevs?.errors ?? []).map((e) => source.errorAt(e.path, e.message, e.atKey)), ...entities.errors];
  const parsed = templateSchema.safeParse(raw);
  if (!parsed.success) {
    errors.push(...parsed.error.issues.flatMap((issue) => issueErrors(issue, at)));
  }
  errors.sort((a, b) => a.line - b.line || a.col - b.col);
  if (errors.length || !parsed.success) return { errors };
  const template = toModel(parsed.data, file, format);
  const warnings = [...(sdevs?.warnings ?? []).map((w) => source.errorAt(w.path, w.message)), ...entities.warnings];
  warnings.push(...template.services.flatMap((s) =>
    s.functions
      .filter((f) => runtimeFamily(f.runtime) === 'not-emulated')
      .map((f) => at(['services', s.name, 'functions', f.name, 'runtime'], `warning: function '${fnKey(f)}' uses ${f.runtime}, which fc-local does not emulate: the other functions serve; invoking this one answers an error`)),
  ));
  // FC's own conditions for MCP affinity, which it states rather than refuses at deploy.
  for (const s of template.services) {
    for (const f of s.functions) {
      const where = ['services', s.name, 'functions', f.name, 'sessionAffinity'];
      const http = f.triggers.find((t) => t.type === 'http');
      if (f.session?.type === 'MCP_STREAMABLE_HTTP' && http?.type === 'http' && !['GET', 'POST', 'DELETE'].every((m) => (http.config.methods as string[]).includes(m))) {
        warnings.push(at(where, `warning: function '${fnKey(f)}': MCP Streamable HTTP affinity needs GET, POST and DELETE on its HTTP trigger (a client ends its session with DELETE)`));
      }
      if (f.session?.type === 'MCP_SSE' && runtimeFamily(f.runtime) !== 'custom') {
        warnings.push(at(where, `warning: function '${fnKey(f)}': FC offers MCP SSE affinity on custom runtimes and containers only, not on ${f.runtime}`));
      }
    }
  }
  return { template, errors: [], warnings };
}

type At = (p: YamlPath, message: string, atKey?: boolean) => TemplateError;

function entity(p: YamlPath): { name: string; rest: YamlPath } {
  const [, svc, , fn, , trg] = p;
  if (trg !== undefined && p[4] === 'triggers') return { name: `trigger '${svc}/${fn}/${trg}'`, rest: p.slice(6) };
  if (fn !== undefined && p[2] === 'functions') return { name: `function '${fnKey({ service: String(svc), name: String(fn) })}'`, rest: p.slice(4) };
  if (svc !== undefined) return { name: `service '${svc}'`, rest: p.slice(2) };
  return { name: 'template', rest: p.slice(1) };
}

function issueErrors(issue: z.core.$ZodIssue, at: At): TemplateError[] {
  const p = issue.path as (string | number)[];
  const { name, rest } = entity(p);
  const field = rest.filter((s) => typeof s === 'string').join('.') || String(p[p.length - 1] ?? 'template');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => at([...p, key], `${name}: unknown key '${key}'${suggest(key)}`, true));
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && !/ is required$| must be /.test(message)) {
    const input = (issue as { input?: unknown }).input;
    message = input === undefined ? `${field} is required` : `${field} must be a ${issue.expected}, not ${describeValue(input)}`;
  } else if (/^Invalid input/.test(message)) {
    message = `${field}: ${message.toLowerCase()}`;
  }
  return [at(p, `${name}: ${message}`)];
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${JSON.stringify(v)}`;
}

const KNOWN_KEYS = [
  'region', 'accountId', 'services', 'description', 'role', 'logConfig', 'project', 'logstore', 'internetAccess',
  'vpcConfig', 'functions', 'runtime', 'handler', 'codeUri', 'timeout', 'memorySize', 'initializer',
  'initializationTimeout', 'environmentVariables', 'instanceConcurrency', 'triggers', 'type', 'sourceArn',
  'invocationRole', 'qualifier', 'config', 'authType', 'methods', 'cronExpression', 'payload', 'enable',
  'bucketName', 'events', 'filter', 'key', 'prefix', 'suffix', 'sourceConfig', 'jobConfig', 'maxRetryTime',
  'triggerInterval', 'functionParameter', 'eventName', 'eventVersion', 'notes', 'asyncConfiguration',
  'maxAsyncRetryAttempts', 'maxAsyncEventAgeInSeconds', 'statefulInvocation', 'destination', 'onSuccess', 'onFailure',
  'caPort', 'customRuntimeConfig', 'command', 'args', 'port', 'customDomains', 'protocol', 'routeConfig', 'routes',
  'path', 'serviceName', 'functionName', 'rewriteConfig', 'equalRules', 'wildcardRules', 'regexRules', 'match', 'replacement',
  'certConfig', 'tlsConfig', 'wafConfig', 'layers', 'provisionConfig', 'target', 'concurrencyConfig', 'reservedConcurrency',
  'nasConfig', 'mountPoints', 'mountDir', 'ossMountConfig', 'bucketName', 'bucketPath', 'readOnly',
  'instanceLifecycleConfig', 'preStop', 'preFreeze', 'build', 'steps', 'run',
  'sessionAffinity', 'sessionAffinityConfig', 'affinityHeaderFieldName', 'sseEndpointPath', 'sessionConcurrencyPerInstance',
  'sessionIdleTimeoutInSeconds', 'sessionTTLInSeconds', 'disableSessionIdReuse', 'instanceIsolationMode',
];

function suggest(key: string): string {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const hit = KNOWN_KEYS.find((k) => norm(k) === norm(key));
  return hit ? ` (did you mean '${hit}'?)` : '';
}

/**
 * FC's name rule for services, functions and triggers (checked on the map keys themselves), and
 * that every codeUri exists. Done on the raw document so they are reported with the schema errors.
 */
function checkEntities(raw: unknown, dir: string, at: At): { errors: TemplateError[]; warnings: TemplateError[] } {
  const errors: TemplateError[] = [];
  // What FC deploys but fails at run time (a hook's missing module): said, not refused.
  const warnings: TemplateError[] = [];
  const entries = (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.entries(v) : []);
  const check = (p: YamlPath, kind: string, name: string) => {
    if (!NAME_RE.test(name)) errors.push(at(p, `${kind} name '${name}' ${NAME_RULE}`, true));
  };
  for (const [s, svc] of entries((raw as { services?: unknown }).services)) {
    // '' holds FC 3.0's functions, which have no service.
    if (s !== '') check(['services', s], 'service', s);
    for (const [f, fn] of entries((svc as { functions?: unknown })?.functions)) {
      check(['services', s, 'functions', f], 'function', f);
      const codeUri = (fn as { codeUri?: unknown })?.codeUri;
      // Code that build steps make (dist/) need not be there before they run.
      const built = ((fn as { build?: { steps?: unknown[] } })?.build?.steps?.length ?? 0) > 0;
      if (typeof codeUri === 'string' && codeUri && !built && !existsSync(path.resolve(dir, codeUri))) {
        errors.push(at(['services', s, 'functions', f, 'codeUri'], `function '${fnKey({ service: s, name: f })}': codeUri '${codeUri}' does not exist (resolved to ${path.resolve(dir, codeUri)})`));
      }
      // A hook's module must be there (FC's runtimes name it file.function); custom runtimes take any name.
      const runtime = String((fn as { runtime?: unknown })?.runtime ?? '');
      const hooks = (fn as { instanceLifecycleConfig?: Record<string, { handler?: unknown } | undefined> })?.instanceLifecycleConfig;
      const exts = runtime.startsWith('nodejs') ? ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'] : runtime.startsWith('python') ? ['.py'] : [];
      for (const hook of ['preStop', 'preFreeze']) {
        const handler = hooks?.[hook]?.handler;
        if (typeof handler !== 'string' || !exts.length || typeof codeUri !== 'string' || built) continue;
        const dot = handler.lastIndexOf('.');
        const base = path.resolve(dir, codeUri, dot > 0 ? handler.slice(0, dot) : handler);
        if (dot <= 0) errors.push(at(['services', s, 'functions', f, 'instanceLifecycleConfig', hook, 'handler'], `${hook} handler '${handler}' must be {file}.{function}`));
        else if (existsSync(path.resolve(dir, codeUri)) && !exts.some((e) => existsSync(base + e))) {
          warnings.push(at(['services', s, 'functions', f, 'instanceLifecycleConfig', hook, 'handler'], `warning: ${hook} handler '${handler}': no ${path.relative(dir, base)}${exts[0]} in the code (FC deploys it; the hook fails each time it runs)`));
        }
      }
      for (const [t] of entries((fn as { triggers?: unknown })?.triggers)) {
        check(['services', s, 'functions', f, 'triggers', t], 'trigger', t);
      }
    }
  }
  return { errors, warnings };
}

function toModel(tpl: RawTemplate, file: string, format: Template['format']): Template {
  const dir = path.dirname(file);
  const layerMap = readLayerMap(dir);
  const services: Service[] = Object.entries(tpl.services).map(([serviceName, svc]) => ({
    name: serviceName,
    description: svc.description,
    role: svc.role,
    logConfig: svc.logConfig,
    internetAccess: svc.internetAccess,
    vpcConfig: svc.vpcConfig,
    functions: Object.entries(svc.functions).map(
      ([name, f]): FunctionSpec => ({
        service: serviceName,
        name,
        description: f.description,
        runtime: f.runtime,
        handler: f.handler,
        // A custom container without code: a folder of fc-local's that stays empty.
        codeUri: f.codeUri !== undefined ? path.resolve(dir, f.codeUri) : path.join(dir, '.fc-local', 'containers', serviceName || '_', name),
        ...(f.runtime === 'custom-container' && f.customContainerConfig ? { container: containerOf(f.customContainerConfig) } : {}),
        timeout: f.timeout,
        memorySize: f.memorySize,
        initializer: f.initializer ?? f.instanceLifecycleConfig?.initializer?.handler,
        ...(f.instanceLifecycleConfig?.preStop || f.instanceLifecycleConfig?.preFreeze
          ? { lifecycle: { ...(f.instanceLifecycleConfig.preStop ? { preStop: f.instanceLifecycleConfig.preStop } : {}), ...(f.instanceLifecycleConfig.preFreeze ? { preFreeze: f.instanceLifecycleConfig.preFreeze } : {}) } }
          : {}),
        initializationTimeout: f.instanceLifecycleConfig?.initializer?.timeout ?? f.initializationTimeout,
        environmentVariables: f.environmentVariables,
        instanceConcurrency: f.instanceConcurrency,
        caPort: f.customContainerConfig?.port ?? f.customRuntimeConfig?.port ?? f.caPort,
        layers: f.layers.map((arn) => ({ arn, ...(layerMap[arn] ? { local: path.resolve(dir, layerMap[arn]) } : {}) })),
        mounts: [
          ...(f.nasConfig?.mountPoints ?? []).flatMap((m) => {
            const mountDir = m.mountDir ?? m.fcDir;
            return mountDir ? [{ dir: mountDir, hostDir: path.join(dir, '.fc-local', 'nas', mountDir.replace(/^\/+/, '')), readOnly: false }] : [];
          }),
          ...(f.ossMountConfig?.mountPoints ?? []).map((m) => ({ dir: m.mountDir, hostDir: path.join(dir, '.fc-local', 'oss', m.bucketName, (m.bucketPath ?? '').replace(/^\/+/, '')), readOnly: m.readOnly ?? false })),
        ],
        ...(f.build?.steps.length
          ? { build: { steps: f.build.steps.map((st) => ({ run: st.run, cwd: path.resolve(dir, st.path ?? '.'), from: st.from ?? 'build.steps' })) } }
          : {}),
        provisioned: f.provisionConfig?.target ?? 0,
        ...(f.concurrencyConfig?.reservedConcurrency !== undefined ? { reservedConcurrency: f.concurrencyConfig.reservedConcurrency } : {}),
        ...(f.mcp ? { mcp: f.mcp } : {}),
        ...sessionOf(f),
        ...(f.customRuntimeConfig?.command || f.customRuntimeConfig?.args
          ? { customRuntimeConfig: { command: f.customRuntimeConfig.command, args: f.customRuntimeConfig.args } }
          : {}),
        asyncConfig: {
          maxAsyncRetryAttempts: f.asyncConfiguration?.maxAsyncRetryAttempts ?? DEFAULT_ASYNC_CONFIG.maxAsyncRetryAttempts,
          maxAsyncEventAgeInSeconds: f.asyncConfiguration?.maxAsyncEventAgeInSeconds ?? DEFAULT_ASYNC_CONFIG.maxAsyncEventAgeInSeconds,
          statefulInvocation: f.asyncConfiguration?.statefulInvocation ?? false,
          destination: { ...f.asyncConfiguration?.destination },
        },
        triggers: Object.entries(f.triggers).map(([trgName, t]) => ({ name: trgName, ...t }) as Trigger),
      }),
    ),
  }));
  const customDomains = Object.entries(tpl.customDomains).map(([domainName, d]) => ({ domainName, protocol: d.protocol, routes: d.routeConfig.routes }));
  return { file, format, region: tpl.region, accountId: tpl.accountId, services, customDomains };
}

/** FC 3.0's session affinity with FC's defaults filled in; none for NONE. */
function sessionOf(f: RawTemplate['services'][string]['functions'][string]): { session?: SessionAffinity } {
  if (!f.sessionAffinity || f.sessionAffinity === 'NONE') return {};
  const c = f.sessionAffinityConfig ?? {};
  const type = f.sessionAffinity;
  const exclusive = f.instanceIsolationMode?.toUpperCase() === 'SESSION_EXCLUSIVE';
  // FC: an instance holds no more sessions than it takes requests (built-in runtimes: one).
  const perInstance = exclusive ? 1 : Math.min(c.sessionConcurrencyPerInstance ?? SESSION_DEFAULTS.perInstance, f.instanceConcurrency);
  return {
    session: {
      type,
      ...(type === 'HEADER_FIELD' && c.affinityHeaderFieldName ? { headerName: c.affinityHeaderFieldName.toLowerCase() } : {}),
      ...(type === 'MCP_SSE' ? { ssePath: c.sseEndpointPath ?? '/sse' } : {}),
      perInstance,
      idleTimeoutSeconds: c.sessionIdleTimeoutInSeconds ?? SESSION_DEFAULTS.idleTimeoutSeconds,
      ttlSeconds: c.sessionTTLInSeconds ?? SESSION_DEFAULTS.ttlSeconds,
      disableIdReuse: c.disableSessionIdReuse ?? false,
      exclusive,
    },
  };
}

/** FC's customContainerConfig as the model keeps it: FC 2.0's command + args are one command. */
function containerOf(c: { image: string; entrypoint?: string[]; command?: string[]; args?: string[]; healthCheckConfig?: NonNullable<ContainerSpec['healthCheck']> }): ContainerSpec {
  const command = [...(c.command ?? []), ...(c.args ?? [])];
  return {
    image: c.image,
    ...(c.entrypoint?.length ? { entrypoint: c.entrypoint } : {}),
    ...(command.length ? { command } : {}),
    ...(c.healthCheckConfig ? { healthCheck: c.healthCheckConfig } : {}),
  };
}
