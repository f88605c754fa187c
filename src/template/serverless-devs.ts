import { parse as parseDotenv } from 'dotenv';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resolveVariables, type Problem, type VarScope } from './sdevs-vars.js';
import type { YamlPath } from './source.js';

// Serverless Devs' s.yaml, both editions, converted to the fc.yml shape (and a map back to the
// s.yaml's own positions, so that errors point into it):
// - edition 3.0.0, `component: fc3` (and `fc3-domain`): one resource is one function, with no
//   service; such functions get the service '' in the model, which never shows in their names.
// - edition 1.0.0, `component: fc` / `devsapp/fc`: `props.{service, function, triggers,
//   customDomains}`; blocks naming the same service merge into one.
// Variables are resolved first (sdevs-vars.ts), with `.env` beside the template loaded.

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function isServerlessDevsDocument(doc: unknown): boolean {
  if (!isObject(doc)) return false;
  if ('edition' in doc) return true;
  const blocks = isObject(doc.resources) ? doc.resources : isObject(doc.services) ? doc.services : {};
  return Object.values(blocks).some((b) => isObject(b) && 'component' in b);
}

export interface Converted {
  raw: unknown;
  /** Maps a path in the fc.yml shape to the s.yaml path it came from. */
  sourcePath(p: YamlPath): YamlPath;
  errors: Problem[];
  warnings: Problem[];
  /** 1 or 3. */
  edition: 1 | 3;
}

/** Keys of the fc/fc3 components with no local meaning: accepted as they are. */
const NO_LOCAL_MEANING = new Set([
  'region', 'role', 'internetAccess', 'vpcConfig', 'vpcBinding', 'cpu', 'diskSize',
  'gpuConfig', 'gpuMemorySize', 'instanceType', 'customDNS', 'tracingConfig', 'tags', 'resourceGroupId',
  'scalingConfig', 'enableLongLiving',
  'endpoint', 'annotations', 'supplement', 'logConfig', 'ossBucket', 'ossKey', 'instanceLifecycleConfig',
  'customHealthCheckConfig', 'description',
]);

const FC3_FUNCTION_KEYS: Record<string, string> = {
  runtime: 'runtime', handler: 'handler', code: 'codeUri', memorySize: 'memorySize', timeout: 'timeout',
  environmentVariables: 'environmentVariables', instanceConcurrency: 'instanceConcurrency', customRuntimeConfig: 'customRuntimeConfig',
  layers: 'layers', provisionConfig: 'provisionConfig', concurrencyConfig: 'concurrencyConfig', nasConfig: 'nasConfig', ossMountConfig: 'ossMountConfig',
  customContainerConfig: 'customContainerConfig', sessionAffinity: 'sessionAffinity', sessionAffinityConfig: 'sessionAffinityConfig',
  instanceIsolationMode: 'instanceIsolationMode',
};
const FC2_FUNCTION_KEYS: Record<string, string> = {
  runtime: 'runtime', handler: 'handler', codeUri: 'codeUri', memorySize: 'memorySize', timeout: 'timeout',
  environmentVariables: 'environmentVariables', instanceConcurrency: 'instanceConcurrency', customRuntimeConfig: 'customRuntimeConfig',
  caPort: 'caPort', initializer: 'initializer', initializationTimeout: 'initializationTimeout', asyncConfiguration: 'asyncConfiguration',
  layers: 'layers', instanceLifecycleConfig: 'instanceLifecycleConfig', customContainerConfig: 'customContainerConfig',
};

function suggestion(key: string, known: string[]): string {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const hit = known.find((k) => norm(k) === norm(key));
  return hit ? ` (did you mean '${hit}'?)` : '';
}

export function serverlessDevsToFc(doc: Record<string, unknown>, file: string, config: (key: string) => string | undefined): Converted {
  const dir = path.dirname(file);
  const dotenvFile = path.join(dir, '.env');
  // `s` loads .env without overriding what the environment already has.
  const env: Record<string, string | undefined> = { ...(existsSync(dotenvFile) ? parseDotenv(readFileSync(dotenvFile)) : {}), ...process.env };
  const edition: 1 | 3 = String(doc.edition ?? '3').startsWith('1') ? 1 : 3;
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const blocksKey = edition === 3 ? 'resources' : 'services';
  const blocks = isObject(doc[blocksKey]) ? (doc[blocksKey] as Record<string, unknown>) : {};
  const templates = isObject(doc.template) ? doc.template : {};

  // Props with `extend:` applied, then variables resolved, each once (resources may refer to each other).
  const resolved = new Map<string, unknown>();
  const resolving = new Set<string>();
  const rawProps = (name: string): Record<string, unknown> | undefined => {
    const b = blocks[name];
    if (!isObject(b)) return undefined;
    const props = isObject(b.props) ? b.props : {};
    const ext = isObject(b.extend) ? b.extend : undefined;
    const base = ext && typeof ext.name === 'string' && isObject(templates[ext.name]) ? (templates[ext.name] as Record<string, unknown>) : undefined;
    if (ext && !base) errors.push({ path: [blocksKey, name, 'extend', 'name'], message: `extend names template '${String(ext.name)}', which the top-level template: block does not have` });
    return base ? deepMerge(base, props) : props;
  };
  const scopeFor = (name?: string): VarScope => ({
    dir,
    env,
    vars: doc.vars ?? {},
    edition,
    config,
    errors,
    warnings,
    resourceProps: (other) => propsOf(other),
    self: name ? { name, props: () => rawProps(name) } : undefined,
  });
  const propsOf = (name: string): unknown => {
    if (resolved.has(name)) return resolved.get(name);
    const props = rawProps(name);
    if (props === undefined) return undefined;
    // A resource reading its own props (edition 1's ${api.props.region} inside api), or a
    // cycle: the props as written.
    if (resolving.has(name)) return props;
    resolving.add(name);
    const value = resolveVariables(props, [blocksKey, name, 'props'], scopeFor(name));
    resolving.delete(name);
    resolved.set(name, value);
    return value;
  };

  const out = { services: {} as Record<string, Record<string, unknown>>, customDomains: {} as Record<string, { protocol?: string; routeConfig: { routes: unknown[] } }> };
  const map = new Map<string, YamlPath>();
  const mapped = (fcPath: YamlPath, orig: YamlPath) => map.set(JSON.stringify(fcPath), orig);
  let region: unknown;

  const addRoutes = (domainName: string, protocol: unknown, routes: unknown[], orig: YamlPath) => {
    const d = (out.customDomains[domainName] ??= { routeConfig: { routes: [] } });
    if (typeof protocol === 'string') d.protocol = protocol;
    for (const r of routes) {
      mapped(['customDomains', domainName, 'routeConfig', 'routes', d.routeConfig.routes.length], [...orig, routes.indexOf(r)]);
      d.routeConfig.routes.push(r);
    }
  };

  /** Copies the function keys fc-local knows, accepts the ones with no local meaning, refuses the rest. */
  const functionOf = (props: Record<string, unknown>, keys: Record<string, string>, orig: YamlPath, fcPath: YamlPath, skip: string[]) => {
    const fn: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(props)) {
      if (skip.includes(k)) continue;
      if (k in keys) {
        fn[keys[k]!] = k === 'code' && isObject(v) ? v.src : v;
        mapped([...fcPath, keys[k]!], [...orig, k]);
      } else if (!NO_LOCAL_MEANING.has(k)) {
        errors.push({ path: [...orig, k], atKey: true, message: `unknown key '${k}'${suggestion(k, [...Object.keys(keys), ...skip, ...NO_LOCAL_MEANING])}` });
      }
    }
    // Of these configs only what has a local form is kept: no health checks, no `auto` mounts,
    // no provisioning schedules.
    if (isObject(fn.customRuntimeConfig)) {
      const { healthCheckConfig: _h, ...rest } = fn.customRuntimeConfig;
      fn.customRuntimeConfig = rest;
    }
    for (const k of ['nasConfig', 'ossMountConfig']) {
      const c = fn[k];
      if (isObject(c)) fn[k] = { mountPoints: Array.isArray(c.mountPoints) ? c.mountPoints : [] };
      else delete fn[k];
    }
    if (isObject(fn.provisionConfig)) fn.provisionConfig = { target: fn.provisionConfig.target ?? 0 };
    if (isObject(fn.concurrencyConfig)) fn.concurrencyConfig = { reservedConcurrency: fn.concurrencyConfig.reservedConcurrency };
    return fn;
  };

  // `run` hooks that apply to local runs: the file's own (every function) and each resource's.
  const globalSteps = localActions(doc.actions, ['actions'], warnings);
  const stepsOf = (block: Record<string, unknown>, where: YamlPath) => {
    const steps = [...globalSteps, ...localActions(block.actions, where, warnings)];
    return steps.length ? { steps } : undefined;
  };

  if (edition === 3) {
    for (const name of Object.keys(blocks)) {
      const block = blocks[name] as Record<string, unknown>;
      const component = String(block.component ?? '');
      const props = propsOf(name);
      if (!isObject(props)) continue;
      const orig: YamlPath = ['resources', name, 'props'];
      region ??= props.region;
      if (component === 'fc3-domain') {
        const rc = isObject(props.routeConfig) ? props.routeConfig : {};
        const routes = (Array.isArray(rc.routes) ? rc.routes : []).map((r) => (isObject(r) ? { serviceName: '', ...r } : r));
        addRoutes(String(props.domainName ?? 'auto'), props.protocol, routes, [...orig, 'routeConfig', 'routes']);
        continue;
      }
      if (component === 'fcai-mcp-server' || component.endsWith('/fcai-mcp-server')) {
        const fnName = typeof props.functionName === 'string' ? props.functionName : name;
        const fcPath: YamlPath = ['services', '', 'functions', fnName];
        mapped(fcPath, orig);
        const mcp = mcpFunction(props, orig, errors, warnings);
        if (mcp) {
          // The template's build steps and the resource's local actions, in that order.
          const steps = [...((mcp.build as { steps: unknown[] } | undefined)?.steps ?? []), ...(stepsOf(block, ['resources', name, 'actions'])?.steps ?? [])];
          if (steps.length) mcp.build = { steps };
          ((out.services[''] ??= { functions: {} }).functions as Record<string, unknown>)[fnName] = mcp;
        }
        continue;
      }
      if (component !== 'fc3' && !component.endsWith('/fc3')) {
        warnings.push({ path: ['resources', name, 'component'], message: `warning: resource '${name}' uses component ${component || '(none)'}, which fc-local does not emulate; it is left out` });
        continue;
      }
      // An unfilled `{{ functionName }}` is reported once (above); the resource's name stands in.
      const fnName = typeof props.functionName === 'string' && !props.functionName.includes('{{') ? props.functionName : name;
      const fcPath: YamlPath = ['services', '', 'functions', fnName];
      mapped(fcPath, orig);
      mapped([...fcPath, 'codeUri'], [...orig, 'code']);
      const fn = functionOf(props, FC3_FUNCTION_KEYS, orig, fcPath, ['functionName', 'triggers', 'asyncInvokeConfig', 'customDomain', 'instanceLifecycleConfig']);
      // FC 3.0's custom runtimes need no handler.
      if (fn.handler === undefined && String(fn.runtime ?? '').startsWith('custom')) fn.handler = 'index.handler';
      const init = isObject(props.instanceLifecycleConfig) && isObject(props.instanceLifecycleConfig.initializer) ? props.instanceLifecycleConfig.initializer : undefined;
      // FC 3.0 has preStop (no preFreeze): the fc.yml shape takes it as it is.
      const preStop = isObject(props.instanceLifecycleConfig) && isObject(props.instanceLifecycleConfig.preStop) ? props.instanceLifecycleConfig.preStop : undefined;
      if (preStop) {
        fn.instanceLifecycleConfig = { preStop };
        mapped([...fcPath, 'instanceLifecycleConfig', 'preStop'], [...orig, 'instanceLifecycleConfig', 'preStop']);
      }
      if (init) {
        fn.initializer = init.handler;
        if (init.timeout !== undefined) fn.initializationTimeout = init.timeout;
        mapped([...fcPath, 'initializer'], [...orig, 'instanceLifecycleConfig', 'initializer', 'handler']);
      }
      const aic = isObject(props.asyncInvokeConfig) ? props.asyncInvokeConfig : undefined;
      if (aic) fn.asyncConfiguration = asyncOf(aic);
      const build = stepsOf(block, ['resources', name, 'actions']);
      if (build) fn.build = build;
      fn.triggers = triggersOf(props.triggers, [...orig, 'triggers'], [...fcPath, 'triggers'], 3);
      const cd = isObject(props.customDomain) ? props.customDomain : undefined;
      if (cd) {
        const route = { path: '/*', ...(isObject(cd.route) ? cd.route : {}), serviceName: '', functionName: fnName };
        delete (route as Record<string, unknown>).qualifier;
        addRoutes(String(cd.domainName ?? 'auto'), cd.protocol, [route], [...orig, 'customDomain', 'route']);
      }
      const svc = (out.services[''] ??= { functions: {} });
      (svc.functions as Record<string, unknown>)[fnName] = fn;
    }
  } else {
    for (const name of Object.keys(blocks)) {
      const block = blocks[name] as Record<string, unknown>;
      const component = String(block.component ?? '');
      const props = propsOf(name);
      if (!isObject(props)) continue;
      const orig: YamlPath = ['services', name, 'props'];
      if (!/(^|\/)fc$/.test(component)) {
        warnings.push({ path: ['services', name, 'component'], message: `warning: block '${name}' uses component ${component || '(none)'}, which fc-local does not emulate; it is left out` });
        continue;
      }
      region ??= props.region;
      const service = isObject(props.service) ? props.service : {};
      // The fc component's NAS config is the service's: every function of it mounts it.
      const serviceNas = isObject(service.nasConfig) ? service.nasConfig : undefined;
      const svcName = String(service.name ?? name);
      const svc = (out.services[svcName] ??= { functions: {} });
      mapped(['services', svcName], [...orig, 'service', 'name']);
      for (const [k, v] of Object.entries(service)) {
        if (k === 'logConfig' && isObject(v)) svc.logConfig = { project: v.project, logstore: v.logstore };
        else if (k === 'description' || k === 'role' || k === 'internetAccess') svc[k] = v;
        else if (k !== 'name' && k !== 'nasConfig' && !NO_LOCAL_MEANING.has(k)) errors.push({ path: [...orig, 'service', k], atKey: true, message: `unknown key '${k}'${suggestion(k, ['name', ...NO_LOCAL_MEANING])}` });
      }
      const fnProps = isObject(props.function) ? props.function : undefined;
      if (fnProps) {
        const fnName = String(fnProps.name ?? name);
        const fcPath: YamlPath = ['services', svcName, 'functions', fnName];
        mapped(fcPath, [...orig, 'function']);
        const fn = functionOf(fnProps, FC2_FUNCTION_KEYS, [...orig, 'function'], fcPath, ['name']);
        if (serviceNas) fn.nasConfig = { mountPoints: Array.isArray(serviceNas.mountPoints) ? serviceNas.mountPoints : [] };
        const build = stepsOf(block, ['services', name, 'actions']);
        if (build) fn.build = build;
        fn.triggers = triggersOf(props.triggers, [...orig, 'triggers'], [...fcPath, 'triggers'], 1);
        (svc.functions as Record<string, unknown>)[fnName] = fn;
      }
      const domains = Array.isArray(props.customDomains) ? props.customDomains : [];
      domains.forEach((d, i) => {
        if (!isObject(d)) return;
        addRoutes(String(d.domainName ?? 'auto'), d.protocol, Array.isArray(d.routeConfigs) ? d.routeConfigs : [], [...orig, 'customDomains', i, 'routeConfigs']);
      });
      for (const k of Object.keys(props)) {
        if (!['region', 'service', 'function', 'triggers', 'customDomains'].includes(k)) {
          errors.push({ path: [...orig, k], atKey: true, message: `unknown key '${k}'${suggestion(k, ['region', 'service', 'function', 'triggers', 'customDomains'])}` });
        }
      }
    }
  }

  function triggersOf(list: unknown, orig: YamlPath, fcPath: YamlPath, ed: 1 | 3): Record<string, unknown> {
    const triggers: Record<string, unknown> = {};
    (Array.isArray(list) ? list : []).forEach((t, i) => {
      if (!isObject(t)) return;
      const name = String((ed === 3 ? t.triggerName : t.name) ?? `trigger${i}`);
      const type = ed === 3 ? t.triggerType : t.type;
      let config = (ed === 3 ? t.triggerConfig : t.config) ?? {};
      if (isObject(config)) config = triggerConfig(String(type), config);
      const trg: Record<string, unknown> = { type, config };
      for (const k of ['sourceArn', 'qualifier'] as const) if (t[k] !== undefined) trg[k] = t[k];
      const role = t.invocationRole ?? t.role;
      if (role !== undefined) trg.invocationRole = role;
      mapped([...fcPath, name], [...orig, i]);
      mapped([...fcPath, name, 'config'], [...orig, i, ed === 3 ? 'triggerConfig' : 'config']);
      mapped([...fcPath, name, 'type'], [...orig, i, ed === 3 ? 'triggerType' : 'type']);
      triggers[name] = trg;
    });
    return triggers;
  }

  /** The component's trigger configs in fc.yml terms (OSS's capitalised filter, HTTP extras). */
  function triggerConfig(type: string, c: Record<string, unknown>): Record<string, unknown> {
    const config = { ...c };
    if (type === 'http') {
      delete config.disableURLInternet;
      // jwt keeps the keys and where the token is; the rest of authConfig has no local meaning.
      if (isObject(c.authConfig)) config.authConfig = { jwks: c.authConfig.jwks, ...(typeof c.authConfig.tokenLookup === 'string' ? { tokenLookup: c.authConfig.tokenLookup } : {}) };
      if (config.authType !== 'jwt') delete config.authConfig;
    }
    if (type === 'oss' && isObject(c.filter) && isObject(c.filter.Key)) {
      const key = c.filter.Key;
      config.filter = { key: { ...(key.Prefix !== undefined ? { prefix: key.Prefix } : {}), ...(key.Suffix !== undefined ? { suffix: key.Suffix } : {}) } };
    }
    return config;
  }

  const raw = { ...(typeof region === 'string' ? { region } : {}), accountId: config('AccountID'), services: out.services, customDomains: out.customDomains };
  return {
    raw,
    edition,
    errors,
    warnings,
    sourcePath: (p) => {
      for (let n = p.length; n > 0; n--) {
        const hit = map.get(JSON.stringify(p.slice(0, n)));
        if (hit) return [...hit, ...p.slice(n)];
      }
      return [blocksKey];
    },
  };
}

/** FC 3.0's asyncInvokeConfig in the fc component's asyncConfiguration terms. */
function asyncOf(a: Record<string, unknown>): Record<string, unknown> {
  const dc = isObject(a.destinationConfig) ? a.destinationConfig : {};
  const dest = (d: unknown) => (isObject(d) && typeof d.destination === 'string' ? d.destination : undefined);
  const destination = { ...(dest(dc.onSuccess) ? { onSuccess: dest(dc.onSuccess) } : {}), ...(dest(dc.onFailure) ? { onFailure: dest(dc.onFailure) } : {}) };
  return {
    ...(a.maxAsyncRetryAttempts !== undefined ? { maxAsyncRetryAttempts: a.maxAsyncRetryAttempts } : {}),
    ...(a.maxAsyncEventAgeInSeconds !== undefined ? { maxAsyncEventAgeInSeconds: a.maxAsyncEventAgeInSeconds } : {}),
    ...(Object.keys(destination).length ? { destination } : {}),
  };
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(base[k]) ? deepMerge(base[k] as Record<string, unknown>, v) : v;
  return out;
}

/** Props of Function AI's MCP server component that fc-local does not need locally. */
const MCP_NO_LOCAL_MEANING = new Set(['region', 'description', 'cpu', 'diskSize', 'source', 'role', 'vpcConfig', 'logConfig', 'internetAccess', 'gpuConfig', 'tags', 'nasConfig', 'sessionAffinity', 'build']);

/**
 * An fcai-mcp-server resource as an FC 3.0 custom-runtime function with a function URL: its
 * startCommand run in rootDir, listening on `port` (sse, streamable-http), or behind fc-local's
 * bridge (stdio). One instance takes every session, as FC's instanceQuota 1 template does.
 */
function mcpFunction(props: Record<string, unknown>, orig: YamlPath, errors: Problem[], warnings: Problem[]): Record<string, unknown> | undefined {
  const transport = String(props.transport ?? 'stdio').toLowerCase().replace('streamable_http', 'streamable-http').replace(/^streamablehttp$/, 'streamable-http');
  if (!['stdio', 'sse', 'streamable-http'].includes(transport)) {
    errors.push({ path: [...orig, 'transport'], message: `transport must be stdio, sse or streamable-http (got ${JSON.stringify(props.transport)})` });
    return undefined;
  }
  if (typeof props.startCommand !== 'string' || !props.startCommand.trim()) {
    errors.push({ path: [...orig, 'startCommand'], atKey: props.startCommand === undefined, message: 'startCommand is required: the command that starts the MCP server, e.g. "node ./dist/index.js"' });
    return undefined;
  }
  const known = ['transport', 'startCommand', 'runtime', 'rootDir', 'code', 'port', 'memorySize', 'timeout', 'environmentVariables', 'instanceQuota', 'functionName', 'layers'];
  for (const k of Object.keys(props)) {
    if (!known.includes(k) && !MCP_NO_LOCAL_MEANING.has(k)) errors.push({ path: [...orig, k], atKey: true, message: `unknown key '${k}'${suggestion(k, known)}` });
  }
  // build: { default: { steps: [{ run, path }] } } (or build.steps): run before the server starts, in rootDir unless a path says otherwise.
  const buildBlock = isObject(props.build) ? (isObject(props.build.default) ? props.build.default : props.build) : undefined;
  const rootDir = String(props.rootDir ?? props.code ?? './code');
  const buildSteps = (Array.isArray(buildBlock?.steps) ? buildBlock.steps : []).flatMap((st, i) => {
    if (isObject(st) && typeof st.run === 'string') return [{ run: st.run, path: typeof st.path === 'string' ? st.path : rootDir, from: 'build.steps' }];
    warnings.push({ path: [...orig, 'build', ...(isObject(props.build) && isObject(props.build.default) ? ['default'] : []), 'steps', i], message: 'warning: a build step is { run: <command>, path: <dir> }; this one is left out' });
    return [];
  });
  const port = typeof props.port === 'number' ? props.port : 9000;
  const env = isObject(props.environmentVariables) ? { ...props.environmentVariables } : {};
  return {
    runtime: 'custom.debian10',
    handler: 'index.handler',
    codeUri: String(props.rootDir ?? props.code ?? './code'),
    ...(typeof props.memorySize === 'number' ? { memorySize: props.memorySize } : {}),
    timeout: typeof props.timeout === 'number' ? props.timeout : 600,
    environmentVariables: env,
    instanceConcurrency: 200,
    ...(typeof props.instanceQuota === 'number' ? { concurrencyConfig: { reservedConcurrency: props.instanceQuota } } : {}),
    ...(Array.isArray(props.layers) ? { layers: props.layers } : {}),
    customRuntimeConfig: transport === 'stdio' ? { port } : { command: ['/bin/sh', '-c', props.startCommand], port },
    mcp: { transport, startCommand: props.startCommand },
    ...(buildSteps.length ? { build: { steps: buildSteps } } : {}),
    triggers: { mcp: { type: 'http', config: { authType: 'anonymous', methods: ['GET', 'POST', 'DELETE', 'OPTIONS'] } } },
  };
}

/** The `run` hooks of an `actions` block that apply to local runs: `pre-local`, or a `pre-${regex('...')}` that matches `local`. */
function localActions(actions: unknown, where: YamlPath, warnings: Problem[]): { run: string; path?: string; from: string }[] {
  if (!isObject(actions)) return [];
  const steps: { run: string; path?: string; from: string }[] = [];
  for (const [key, hooks] of Object.entries(actions)) {
    const phase = /^pre-(.+)$/.exec(key)?.[1];
    if (!phase) continue;
    const pattern = /^\$\{regex\('(.+)'\)\}$/.exec(phase)?.[1];
    let applies = phase === 'local';
    if (pattern) {
      try {
        applies = new RegExp(`^(?:${pattern})$`).test('local');
      } catch {
        applies = false;
      }
    }
    if (!applies) continue;
    (Array.isArray(hooks) ? hooks : []).forEach((h, i) => {
      if (isObject(h) && typeof h.run === 'string') steps.push({ run: h.run, ...(typeof h.path === 'string' ? { path: h.path } : {}), from: `actions.${key}` });
      else warnings.push({ path: [...where, key, i], message: `warning: fc-local runs the run hooks of actions; this ${isObject(h) && h.component ? 'component' : 'plugin'} hook is left out` });
    });
  }
  return steps;
}
