// The one typed model of a template. Loaders in src/template/ build it; everything else reads it.
// Trigger configs keep FC's own spelling (camelCase, as the user guide and the API use them).

/** The runtimes fc-local runs. */
export const RUNTIMES = [
  'nodejs6', 'nodejs8', 'nodejs10', 'nodejs12', 'nodejs14', 'nodejs16', 'nodejs18', 'nodejs20',
  'python2.7', 'python3', 'python3.9', 'python3.10', 'python3.12',
  'java8', 'java11',
  // FC's PHP 7.2 runtime, on the PHP there is (Debian's php-cli, 8.2 here).
  'php7.2',
  'custom', 'custom.debian10', 'custom.debian11', 'custom.debian12',
  // The function's own image, on the Docker backend (a custom runtime from the protocol's side).
  'custom-container',
] as const;

/**
 * FC runtimes fc-local does not run: a template with them loads (a warning each), the other
 * functions serve, and invoking one of these answers FC's error JSON saying so.
 */
export const NOT_EMULATED_RUNTIMES = ['nodejs4.4', 'dotnetcore2.1', 'dotnetcore3.1', 'go1'] as const;

export type EmulatedRuntime = (typeof RUNTIMES)[number];
export type Runtime = EmulatedRuntime | (typeof NOT_EMULATED_RUNTIMES)[number];

export type RuntimeFamily = 'nodejs' | 'python' | 'java' | 'php' | 'custom' | 'not-emulated';

export function runtimeFamily(runtime: Runtime): RuntimeFamily {
  if ((NOT_EMULATED_RUNTIMES as readonly string[]).includes(runtime)) return 'not-emulated';
  if (runtime.startsWith('nodejs')) return 'nodejs';
  if (runtime.startsWith('python')) return 'python';
  if (runtime.startsWith('java')) return 'java';
  if (runtime.startsWith('php')) return 'php';
  return 'custom';
}

export interface Template {
  /** Absolute path of the template file. */
  file: string;
  format: 'fc' | 'funcraft' | 'serverless-devs';
  region: string;
  accountId: string;
  services: Service[];
  /** Custom domains: host + path routes to HTTP functions. */
  customDomains: CustomDomain[];
}

export interface RewriteRule {
  match: string;
  replacement: string;
}

export interface DomainRoute {
  /** `/exact`, `/prefix/*` or `/*`. */
  path: string;
  serviceName: string;
  functionName: string;
  qualifier?: string;
  /** Methods this route takes; all when absent. */
  methods?: HttpMethod[];
  rewriteConfig?: { equalRules?: RewriteRule[]; wildcardRules?: RewriteRule[]; regexRules?: RewriteRule[] };
}

export interface CustomDomain {
  /** As declared; `auto` is served at a name derived from the function (see localDomainNames). */
  domainName: string;
  protocol: string;
  routes: DomainRoute[];
}

/**
 * The host names a custom domain answers to locally: its own name (with a Host header, or an
 * /etc/hosts entry) and `<name>.localhost`, which browsers and curl resolve to loopback. `auto`
 * domains, which FC names after the function, answer to `<function>.<service>.localhost`.
 */
export function localDomainNames(d: CustomDomain): string[] {
  if (d.domainName.toLowerCase() === 'auto') {
    // One name per function routed to (several s.yaml blocks may each declare `auto`); FC 3.0's
    // functions have their function URL (`<function>.localhost`) instead.
    return d.routes.filter((r) => r.serviceName).map((r) => `${r.functionName}.${r.serviceName}.localhost`.toLowerCase());
  }
  const name = d.domainName.toLowerCase();
  return [name, `${name}.localhost`];
}

export interface LogConfig {
  project: string;
  logstore: string;
}

export interface Service {
  name: string;
  description?: string;
  role?: string;
  logConfig?: LogConfig;
  internetAccess?: boolean;
  vpcConfig?: Record<string, unknown>;
  functions: FunctionSpec[];
}

export interface ContainerSpec {
  image: string;
  /** Overrides the image's ENTRYPOINT (FC 3.0's entrypoint). */
  entrypoint?: string[];
  /** Overrides the image's CMD: command and args (FC 2.0's command + args, FC 3.0's command). */
  command?: string[];
  /** Readiness: the instance takes requests once this answers (FC's healthCheckConfig). */
  healthCheck?: {
    httpGetUrl: string;
    initialDelaySeconds: number;
    periodSeconds: number;
    timeoutSeconds: number;
    failureThreshold: number;
    successThreshold: number;
  };
}

export function isContainer(fn: { runtime: Runtime }): boolean {
  return fn.runtime === 'custom-container';
}

export interface LifecycleHook {
  /** `file.function` for FC's runtimes; custom runtimes get GET /pre-stop or /pre-freeze whatever it says. */
  handler: string;
  /** Seconds. */
  timeout: number;
}

export interface BuildStep {
  /** A shell command. */
  run: string;
  /** Absolute working directory. */
  cwd: string;
  /** Where it was declared, for messages (e.g. `actions.pre-local`). */
  from: string;
}

export interface FunctionSpec {
  /** Name of the service the function belongs to. */
  service: string;
  name: string;
  description?: string;
  runtime: Runtime;
  handler: string;
  /** Absolute path of the code directory. */
  codeUri: string;
  /** Seconds. */
  timeout: number;
  /** MB. */
  memorySize: number;
  initializer?: string;
  /** Seconds. */
  initializationTimeout: number;
  environmentVariables: Record<string, string>;
  /** Concurrent requests one instance takes (FC 1.0 semantics: 1). */
  instanceConcurrency: number;
  /** How async invocations of this function are retried, aged out and reported. */
  asyncConfig: AsyncConfig;
  /** Custom runtimes: the port the server listens on (FC's caPort, default 9000). */
  caPort: number;
  /** Custom runtimes: the start command (instead of the code dir's `bootstrap`) and its arguments. */
  customRuntimeConfig?: { command?: string[]; args?: string[] };
  /** Layers, in order: the ARN and the local folder or zip fc-local.json maps it to (none: an error at start). */
  layers: { arn: string; local?: string }[];
  /** NAS and OSS mounts: a folder beside the template stands in for each. */
  mounts: { dir: string; hostDir: string; readOnly: boolean }[];
  /** custom-container: the image and how to start it (FC's customContainerConfig). */
  container?: ContainerSpec;
  /** FC's instance life cycle hooks besides the initializer: preStop before an instance stops, preFreeze (FC 2.0) after each invocation. */
  lifecycle?: { preStop?: LifecycleHook; preFreeze?: LifecycleHook };
  /** Commands that build the code before it runs (s.yaml `actions`, an MCP template's `build`, fc.yml `build`). */
  build?: { steps: BuildStep[] };
  /** provisionConfig.target: instances started with the emulator. */
  provisioned: number;
  /** concurrencyConfig.reservedConcurrency: instances at most, each of instanceConcurrency requests (429 beyond). */
  reservedConcurrency?: number;
  /** An MCP server (Function AI's fcai-mcp-server): how it speaks, and the command that starts it. */
  mcp?: McpServerSpec;
  /** FC 3.0's session affinity (sessionAffinity + sessionAffinityConfig): requests of one session go to one instance. */
  session?: SessionAffinity;
  triggers: Trigger[];
}

/** FC 3.0's affinity types; `GENERATED_COOKIE` is FC's name for cookie affinity (`COOKIE` is accepted for it). */
export const SESSION_AFFINITY_TYPES = ['HEADER_FIELD', 'GENERATED_COOKIE', 'MCP_SSE', 'MCP_STREAMABLE_HTTP'] as const;
export type SessionAffinityType = (typeof SESSION_AFFINITY_TYPES)[number];

/**
 * The header fc-local's agents add to a function's requests to fc-local's own services (local OSS,
 * FC's API): the invocation making them, for traces. Not an x-fc-/x-oss-/x-acs- name: FC's and
 * OSS's signatures cover those, and the caller signed without it. Never passed on to a function.
 */
export const TRACE_PARENT_HEADER = 'fc-local-parent-request-id';

/** The cookie FC sets (and reads) for GENERATED_COOKIE affinity. */
export const SESSION_COOKIE = 'x-fc-cookie-session-id';

export interface SessionAffinity {
  type: SessionAffinityType;
  /** HEADER_FIELD: the request (and response) header that carries the session ID. */
  headerName?: string;
  /** MCP_SSE: the path of the SSE stream whose `endpoint` event names the session (FC's default /sse). */
  ssePath?: string;
  /** Sessions one instance holds at once (sessionConcurrencyPerInstance, at most instanceConcurrency). */
  perInstance: number;
  /** A session with no request for this long ends (0: never idles out). */
  idleTimeoutSeconds: number;
  /** A session ends this long after it began, whatever its traffic. */
  ttlSeconds: number;
  /** An ended session's ID may not start a new session (FC answers an error instead). */
  disableIdReuse: boolean;
  /** instanceIsolationMode SESSION_EXCLUSIVE: an instance serves one session and ends with it. */
  exclusive: boolean;
}

/** FC's defaults for sessionAffinityConfig. */
export const SESSION_DEFAULTS = { perInstance: 20, idleTimeoutSeconds: 1800, ttlSeconds: 21_600 } as const;

/**
 * An fcai-mcp-server resource. `stdio` servers get fc-local's bridge in front (runtimes/mcp):
 * SSE at ssePath + messagePath, Streamable HTTP at /mcp, one server process per session.
 */
export interface McpServerSpec {
  transport: 'stdio' | 'sse' | 'streamable-http';
  startCommand: string;
}

/** FC's async invocation config (PutFunctionAsyncInvokeConfig), with FC's defaults filled in. */
export interface AsyncConfig {
  /** Retries after a function error (FC's default: 3). */
  maxAsyncRetryAttempts: number;
  /** An event older than this is dropped instead of run (FC's default: one day). */
  maxAsyncEventAgeInSeconds: number;
  statefulInvocation: boolean;
  /** Function ARNs (acs:fc:{region}:{account}:services/{s}[.{q}]/functions/{f}) that get the result record. */
  destination: { onSuccess?: string; onFailure?: string };
}

export const DEFAULT_ASYNC_CONFIG: AsyncConfig = { maxAsyncRetryAttempts: 3, maxAsyncEventAgeInSeconds: 86_400, statefulInvocation: false, destination: {} };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'PATCH' | 'OPTIONS';

export interface HttpTriggerConfig {
  authType: 'anonymous' | 'function' | 'jwt';
  /** authType jwt (FC 3.0): the keys tokens are checked against, and where the token is. */
  authConfig?: { jwks: { keys: Record<string, unknown>[] }; tokenLookup?: string };
  methods: HttpMethod[];
}

export interface TimerTriggerConfig {
  cronExpression: string;
  payload?: string;
  enable: boolean;
}

export interface OssTriggerConfig {
  bucketName?: string;
  events: string[];
  filter?: { key?: { prefix?: string; suffix?: string } };
}

export interface LogTriggerConfig {
  sourceConfig: { project?: string; logstore: string };
  jobConfig: { maxRetryTime: number; triggerInterval: number };
  functionParameter?: Record<string, unknown>;
  logConfig?: { project?: string; logstore?: string };
  enable: boolean;
}

export interface CdnTriggerConfig {
  eventName: string;
  eventVersion: string;
  notes?: string;
  filter: Record<string, string[]>;
}

export interface TriggerBase {
  name: string;
  sourceArn?: string;
  invocationRole?: string;
  qualifier?: string;
}

export type Trigger =
  | (TriggerBase & { type: 'http'; config: HttpTriggerConfig })
  | (TriggerBase & { type: 'timer'; config: TimerTriggerConfig })
  | (TriggerBase & { type: 'oss'; config: OssTriggerConfig })
  | (TriggerBase & { type: 'log'; config: LogTriggerConfig })
  | (TriggerBase & { type: 'cdn_events'; config: CdnTriggerConfig })
  | (TriggerBase & { type: 'tablestore' | 'api_gateway' | 'datahub' | 'iot' | 'mns_topic' | 'eventbridge'; config: Record<string, unknown> });

export type TriggerType = Trigger['type'];

export const TRIGGER_TYPES: readonly TriggerType[] = [
  'http', 'timer', 'oss', 'log', 'cdn_events', 'tablestore', 'api_gateway', 'datahub', 'iot', 'mns_topic', 'eventbridge',
];

/** Limits from the user guide. */
export const LIMITS = {
  payloadBytes: 6 * 1024 * 1024,
  asyncPayloadBytes: 128 * 1024,
  headerBytes: 4 * 1024,
  maxTimeout: 600,
  minMemory: 128,
  maxMemory: 3072,
  memoryStep: 64,
  functionsPerService: 50,
  triggersPerFunction: 10,
  accountConcurrency: 100,
} as const;

/** The local credentials: what `context.credentials` carries and what signatures are checked against. */
export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  accountId?: string;
  region?: string;
  /** Where they came from, for the banner (never the secret itself). */
  source: string;
}

export const FORMAT_NAMES: Record<Template['format'], string> = { fc: 'fc.yml', funcraft: 'Funcraft', 'serverless-devs': 'Serverless Devs s.yaml' };

/** A function's name in logs, maps and messages: `service/function`. */
export function fnKey(fn: { service: string; name: string }): string {
  // FC 3.0's functions have no service (the model keeps them under '').
  return fn.service ? `${fn.service}/${fn.name}` : fn.name;
}

/**
 * Size of HTTP headers against FC's 4 KB limit: names and values, except FC's own x-fc-* ones
 * (a client cannot set those on a trigger, and fc-local adds them to every answer).
 */
export function headerBytes(headers: Record<string, string | string[] | undefined>): number {
  let n = 0;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.toLowerCase().startsWith('x-fc-')) continue;
    n += Buffer.byteLength(k) + (Array.isArray(v) ? v.reduce((m, x) => m + Buffer.byteLength(x), 0) : Buffer.byteLength(String(v)));
  }
  return n;
}

/** FC 3.0's name for a function: its own name, or `<service>$<function>` for an FC 2.0 one. */
export function fc3Name(f: FunctionSpec): string {
  return f.service ? `${f.service}$${f.name}` : f.name;
}

/** The local function URL of an FC 3.0 function: http://<function>.localhost:<port>/ */
export function functionUrl(f: FunctionSpec, base: string): string {
  return `http://${f.name.toLowerCase()}.localhost:${new URL(base).port}/`;
}

export function findFunction(tpl: Template, service: string, fn: string): FunctionSpec | undefined {
  return tpl.services.find((s) => s.name === service)?.functions.find((f) => f.name === fn);
}

export function allFunctions(tpl: Template): FunctionSpec[] {
  return tpl.services.flatMap((s) => s.functions);
}
