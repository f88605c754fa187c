import type { YamlPath } from './source.js';

// Funcraft's template.yml (ROS `Aliyun::Serverless-2018-04-03`) converted to the fc.yml shape,
// plus the inverse path map so that validation errors point into the Funcraft file.

const EVENT_TYPES: Record<string, string> = {
  HTTP: 'http',
  Timer: 'timer',
  OSS: 'oss',
  Log: 'log',
  CDN: 'cdn_events',
  TableStore: 'tablestore',
  Datahub: 'datahub',
  MNSTopic: 'mns_topic',
  IoT: 'iot',
};

const SERVICE_PROPS = ['Description', 'Role', 'LogConfig', 'InternetAccess', 'VpcConfig'];
const FUNCTION_PROPS = [
  'Description', 'Handler', 'Runtime', 'CodeUri', 'Timeout', 'MemorySize', 'Initializer',
  'InitializationTimeout', 'EnvironmentVariables', 'InstanceConcurrency', 'AsyncConfiguration', 'CAPort',
  'CustomRuntimeConfig', 'InstanceLifecycleConfig', 'CustomContainerConfig',
];
// Values under these keys are user data: their own keys keep their spelling.
const OPAQUE = new Set(['EnvironmentVariables', 'FunctionParameter', 'VpcConfig', 'environmentVariables', 'functionParameter', 'vpcConfig']);

// Keys whose camelCase is not their first letter lowered.
const SPELLING: Record<string, string> = { CAPort: 'caPort' };
const lowerFirst = (s: string) => SPELLING[s] ?? s.charAt(0).toLowerCase() + s.slice(1);
const upperFirst = (s: string) => (s === 'caPort' ? 'CAPort' : s.charAt(0).toUpperCase() + s.slice(1));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** PascalCase keys to camelCase, recursively, except inside user data. */
function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [lowerFirst(k), OPAQUE.has(k) ? v : camelKeys(v)]),
  );
}

function pick(props: unknown, names: string[]): Record<string, unknown> {
  if (!isObject(props)) return {};
  return Object.fromEntries(names.filter((n) => n in props).map((n) => [n, props[n]]));
}

export function isFuncraftDocument(doc: unknown): boolean {
  return isObject(doc) && ('ROSTemplateFormatVersion' in doc || 'Resources' in doc || 'Transform' in doc);
}

/**
 * Converts the document. Resources of other types (Log projects, TableStore instances, ...) and
 * properties fc-local does not use are left out, so real projects load unchanged.
 */
export function funcraftToFc(doc: Record<string, unknown>): unknown {
  const services: Record<string, unknown> = {};
  const resources = isObject(doc.Resources) ? doc.Resources : {};
  for (const [svcName, svc] of Object.entries(resources)) {
    if (!isObject(svc) || svc.Type !== 'Aliyun::Serverless::Service') continue;
    const functions: Record<string, unknown> = {};
    for (const [fnName, fn] of Object.entries(svc)) {
      if (!isObject(fn) || fn.Type !== 'Aliyun::Serverless::Function') continue;
      const triggers: Record<string, unknown> = {};
      for (const [trgName, trg] of Object.entries(isObject(fn.Events) ? fn.Events : {})) {
        if (!isObject(trg)) continue;
        const type = typeof trg.Type === 'string' ? EVENT_TYPES[trg.Type] ?? trg.Type : trg.Type;
        const { InvocationRole, SourceArn, Qualifier, ...config } = isObject(trg.Properties) ? trg.Properties : {};
        triggers[trgName] = {
          type,
          ...(SourceArn !== undefined ? { sourceArn: SourceArn } : {}),
          ...(InvocationRole !== undefined ? { invocationRole: InvocationRole } : {}),
          ...(Qualifier !== undefined ? { qualifier: Qualifier } : {}),
          config: camelKeys(config),
        };
      }
      functions[fnName] = { ...(camelKeys(pick(fn.Properties, FUNCTION_PROPS)) as object), triggers };
    }
    services[svcName] = { ...(camelKeys(pick(svc.Properties, SERVICE_PROPS)) as object), functions };
  }
  // Custom domains: the resource's name is the domain; RouteConfig.Routes maps path -> target.
  const customDomains: Record<string, unknown> = {};
  for (const [name, res] of Object.entries(resources)) {
    if (!isObject(res) || res.Type !== 'Aliyun::Serverless::CustomDomain') continue;
    const props = isObject(res.Properties) ? res.Properties : {};
    const routeConfig = isObject(props.RouteConfig) ? props.RouteConfig : {};
    const routes = isObject(routeConfig.Routes) ? routeConfig.Routes : {};
    customDomains[typeof props.DomainName === 'string' ? props.DomainName : name] = {
      ...(props.Protocol !== undefined ? { protocol: props.Protocol } : {}),
      routeConfig: { routes: Object.entries(routes).map(([p, target]) => ({ path: p, ...(camelKeys(target) as object) })) },
    };
  }
  return { services, ...(Object.keys(customDomains).length ? { customDomains } : {}) };
}

/** Maps a path in the fc.yml shape to where the same thing stands in the Funcraft document. */
export function funcraftPath(path: YamlPath): YamlPath {
  const [root, svc, section, fn, sub, trg, part, ...rest] = path;
  if (root !== 'services' || svc === undefined) return ['Resources'];
  const props = (segs: YamlPath) => {
    const out: (string | number)[] = [];
    let opaque = false;
    for (const s of segs) {
      out.push(typeof s === 'number' || opaque ? s : upperFirst(s));
      opaque = typeof s === 'string' && OPAQUE.has(s);
    }
    return out;
  };
  if (section === undefined) return ['Resources', svc];
  if (section !== 'functions') return ['Resources', svc, 'Properties', ...props(path.slice(2))];
  if (fn === undefined) return ['Resources', svc];
  if (sub === undefined) return ['Resources', svc, fn];
  if (sub !== 'triggers') return ['Resources', svc, fn, 'Properties', ...props(path.slice(4))];
  if (trg === undefined) return ['Resources', svc, fn, 'Events'];
  const base = ['Resources', svc, fn, 'Events', trg];
  if (part === undefined) return base;
  if (part === 'type') return [...base, 'Type'];
  if (part === 'config') return [...base, 'Properties', ...props(rest)];
  return [...base, 'Properties', upperFirst(String(part))];
}

