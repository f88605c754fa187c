import * as z from 'zod';
import { LIMITS, NOT_EMULATED_RUNTIMES, RUNTIMES, SESSION_AFFINITY_TYPES, TRIGGER_TYPES } from '../model.js';
import { parseSchedule } from './cron.js';

// One schema for the fc.yml shape. The Funcraft loader converts its document into this shape
// first, so both formats obey the same rules and give the same messages.

export const NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_-]{0,127}$/;
export const NAME_RULE = 'must start with a letter or _, then letters, digits, _ or -, 1-128 characters';

export const OSS_EVENTS = [
  'oss:ObjectCreated:*',
  'oss:ObjectCreated:PutObject',
  'oss:ObjectCreated:PutSymlink',
  'oss:ObjectCreated:PostObject',
  'oss:ObjectCreated:CopyObject',
  'oss:ObjectCreated:InitiateMultipartUpload',
  'oss:ObjectCreated:UploadPart',
  'oss:ObjectCreated:UploadPartCopy',
  'oss:ObjectCreated:CompleteMultipartUpload',
  'oss:ObjectCreated:AppendObject',
  'oss:ObjectRemoved:DeleteObject',
  'oss:ObjectRemoved:DeleteObjects',
  'oss:ObjectRemoved:AbortMultipartUpload',
] as const;

export const CDN_EVENTS = ['CachedObjectsRefreshed', 'CachedObjectsPushed', 'CachedObjectsBlocked', 'LogFileCreated'] as const;
// FC's HTTP triggers take these (PATCH and OPTIONS too: browsers' CORS preflight, Streamable HTTP clients).
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'] as const;

const int = (what: string, min: number, max: number) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`).min(min, `${what} must be between ${min} and ${max}`).max(max, `${what} must be between ${min} and ${max}`);

const oneOf = <T extends readonly [string, ...string[]]>(what: string, values: T) =>
  z.enum(values, { error: (iss) => `${what} must be one of ${values.join(', ')} (got ${JSON.stringify(iss.input)})` });

// FC env vars are strings; YAML makes `PORT: 8080` a number, which FC's tools quote for you.
// s.yaml's ${json(...)} can make a map: it goes in as JSON text.
const envValue = z.union([z.string(), z.number(), z.boolean(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).transform((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v)));

// FC 3.0's session affinity. The 2023-03-30 API carries sessionAffinityConfig as JSON text; s.yaml
// and fc.yml may give a mapping. Keys FC adds later are let through.
const sessionAffinity = z.preprocess(
  (v) => (typeof v === 'string' ? (v.toUpperCase() === 'COOKIE' ? 'GENERATED_COOKIE' : v.toUpperCase()) : v),
  oneOf('sessionAffinity', ['NONE', ...SESSION_AFFINITY_TYPES] as const),
);
const sessionAffinityConfig = z.preprocess(
  (v, ctx) => {
    if (typeof v !== 'string') return v;
    if (!v.trim()) return {};
    try {
      return JSON.parse(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `sessionAffinityConfig must be a mapping or JSON text (got ${JSON.stringify(v.slice(0, 60))})` });
      return z.NEVER;
    }
  },
  z.looseObject({
    affinityHeaderFieldName: z.string().optional(),
    sseEndpointPath: z.string().regex(/^\//, { error: 'sseEndpointPath is a path: it starts with /' }).optional(),
    sessionConcurrencyPerInstance: int('sessionConcurrencyPerInstance', 1, 200).optional(),
    sessionIdleTimeoutInSeconds: int('sessionIdleTimeoutInSeconds', 0, 21_600).optional(),
    sessionTTLInSeconds: int('sessionTTLInSeconds', 1, 21_600).optional(),
    disableSessionIdReuse: z.boolean().optional(),
  }),
);
/** FC's rule for the header of HEADER_FIELD affinity. */
export const AFFINITY_HEADER_RE = /^[A-Za-z][A-Za-z0-9_-]{4,39}$/;

const httpConfig = z
  .strictObject({
  authType: z.preprocess(
    (v) => (typeof v === 'string' ? v.toLowerCase() : v),
    oneOf('authType', ['anonymous', 'function', 'jwt']),
  ).default('anonymous'),
  authConfig: z
    .object({
      jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }, { error: 'authConfig.jwks must be a JWK set: {keys: [...]}' }),
      tokenLookup: z.string().optional(),
    })
    .optional(),
  methods: z
    .array(z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), oneOf('method', HTTP_METHODS)))
    .min(1, 'methods must list at least one method'),
  })
  .superRefine((c, ctx) => {
    if (c.authType === 'jwt' && !c.authConfig) ctx.addIssue({ code: 'custom', path: ['authConfig'], message: 'authType jwt needs authConfig.jwks, the keys tokens are checked against' });
  });

const timerConfig = z.strictObject({
  cronExpression: z.string({ error: 'cronExpression is required' }).superRefine((expr, ctx) => {
    try {
      parseSchedule(expr);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `cronExpression '${expr}' is not valid: ${(err as Error).message}` });
    }
  }),
  payload: z.string().optional(),
  enable: z.boolean().default(true),
});

const ossConfig = z.strictObject({
  bucketName: z.string().min(1).optional(),
  events: z.array(oneOf('OSS event', OSS_EVENTS)).min(1, 'events must list at least one OSS event'),
  filter: z
    .strictObject({ key: z.strictObject({ prefix: z.string().optional(), suffix: z.string().optional() }).optional() })
    .optional(),
});

const logConfigRef = z.strictObject({ project: z.string().optional(), logstore: z.string().optional() });
const logConfig = z.strictObject({
  sourceConfig: z.strictObject({ project: z.string().optional(), logstore: z.string({ error: 'sourceConfig.logstore is required' }).min(1) }),
  jobConfig: z.strictObject({
    maxRetryTime: int('maxRetryTime', 0, 100).default(3),
    triggerInterval: int('triggerInterval', 3, 600).default(60),
  }),
  functionParameter: z.record(z.string(), z.unknown()).optional(),
  logConfig: logConfigRef.optional(),
  enable: z.boolean().default(true),
});

// The guide writes `domain: { "a.com", "b.com" }`: in YAML a map of keys with null values.
const filterValues = z.union([
  z.array(z.string()),
  z.string().transform((s) => [s]),
  z.record(z.string(), z.null()).transform((m) => Object.keys(m)),
]);
const cdnConfig = z.strictObject({
  eventName: oneOf('eventName', CDN_EVENTS),
  eventVersion: z.string().default('1.0.0'),
  notes: z.string().optional(),
  filter: z
    .record(z.string(), filterValues.transform((vs) => vs.map((v) => v.trim())))
    .refine((f) => Object.values(f).some((vs) => vs.length > 0), 'filter must contain at least one key with values, e.g. domain'),
});

const CONFIG_SCHEMAS: Partial<Record<string, z.ZodType>> = {
  http: httpConfig,
  timer: timerConfig,
  oss: ossConfig,
  log: logConfig,
  cdn_events: cdnConfig,
};

const trigger = z
  .strictObject({
    type: oneOf('trigger type', TRIGGER_TYPES as unknown as [string, ...string[]]),
    sourceArn: z.string().optional(),
    invocationRole: z.string().optional(),
    qualifier: z.string().optional(),
    config: z.unknown(),
  })
  .transform((t, ctx) => {
    const schema = CONFIG_SCHEMAS[t.type] ?? z.record(z.string(), z.unknown()).default({});
    const parsed = schema.safeParse(t.config ?? (CONFIG_SCHEMAS[t.type] ? undefined : {}));
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ ...issue, path: ['config', ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
      }
      return z.NEVER;
    }
    return { ...t, config: parsed.data };
  });

// Local destinations are functions of the template; FC's MNS, EventBridge and RocketMQ ones are not emulated.
const functionArn = z
  .string()
  .regex(/^acs:fc:[^:]*:[^:]*:(services\/[^/]+\/)?functions\/[^/]+$/, {
    error: (iss) => `a destination must be a function ARN acs:fc:{region}:{accountId}:services/{service}[.{qualifier}]/functions/{function} (FC 3.0: acs:fc:{region}:{accountId}:functions/{function}) (got ${JSON.stringify(iss.input)}); other destination types are not emulated`,
  });

/** A command as FC 2.0 writes it (a JSON array in a string) or as FC 3.0 does (a list). */
const commandList = z.unknown().transform((v, ctx): string[] => {
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  if (typeof v === 'string') {
    try {
      const parsed: unknown = JSON.parse(v);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
    } catch {
      // falls through to the issue
    }
  }
  ctx.addIssue({ code: 'custom', message: `a command is a list of strings, or FC 2.0's JSON array in a string such as '["node", "server.js"]' (got ${JSON.stringify(v)})` });
  return z.NEVER;
});

const fn = z
  .strictObject({
    description: z.string().optional(),
    runtime: z.enum([...RUNTIMES, ...NOT_EMULATED_RUNTIMES], { error: (iss) => `runtime must be one of ${RUNTIMES.join(', ')} (got ${JSON.stringify(iss.input)})` }),
    // Required but for custom containers, whose image is the program (FC 2.0 takes none).
    handler: z.string({ error: 'handler must be a string' }).min(1, 'handler must not be empty').optional(),
    // A custom container's code is its image: it needs none.
    codeUri: z.string({ error: 'codeUri is required' }).min(1, 'codeUri must not be empty').optional(),
    customContainerConfig: z
      .looseObject({
        image: z.string({ error: 'customContainerConfig.image is required: the image to run' }).min(1),
        entrypoint: commandList.optional(),
        command: commandList.optional(),
        args: commandList.optional(),
        port: int('customContainerConfig.port', 1, 65535).optional(),
        healthCheckConfig: z
          .looseObject({
            httpGetUrl: z.string().min(1),
            initialDelaySeconds: int('healthCheckConfig.initialDelaySeconds', 0, 120).default(0),
            periodSeconds: int('healthCheckConfig.periodSeconds', 1, 120).default(3),
            timeoutSeconds: int('healthCheckConfig.timeoutSeconds', 1, 3).default(1),
            failureThreshold: int('healthCheckConfig.failureThreshold', 1, 120).default(3),
            successThreshold: int('healthCheckConfig.successThreshold', 1, 120).default(1),
          })
          .optional(),
      })
      .optional(),
    timeout: int('timeout', 1, LIMITS.maxTimeout).default(3),
    memorySize: z
      .number({ error: 'memorySize must be a number' })
      .refine(
        (m) => Number.isInteger(m) && m >= LIMITS.minMemory && m <= LIMITS.maxMemory && m % LIMITS.memoryStep === 0,
        { error: (iss) => `memorySize must be ${LIMITS.minMemory}-${LIMITS.maxMemory} MB in steps of ${LIMITS.memoryStep} (got ${String(iss.input)})` },
      )
      .default(128),
    initializer: z.string().min(1).optional(),
    // FC's hooks around an instance's life: preStop (FC 2.0 and 3.0) and preFreeze (FC 2.0).
    instanceLifecycleConfig: z
      .object({
        preStop: z.object({ handler: z.string().min(1), timeout: int('instanceLifecycleConfig.preStop.timeout', 1, 900).default(3) }).optional(),
        preFreeze: z.object({ handler: z.string().min(1), timeout: int('instanceLifecycleConfig.preFreeze.timeout', 1, 900).default(3) }).optional(),
        // FC 3.0 puts the initializer here too.
        initializer: z.object({ handler: z.string().min(1), timeout: int('instanceLifecycleConfig.initializer.timeout', 1, LIMITS.maxTimeout).optional() }).optional(),
      })
      .optional(),
    initializationTimeout: int('initializationTimeout', 1, LIMITS.maxTimeout).default(3),
    environmentVariables: z.record(z.string(), envValue).default({}),
    // FC 3.0 allows 200; FC 2.0's 100 is checked per service (see service below).
    instanceConcurrency: int('instanceConcurrency', 1, 200).default(1),
    caPort: int('caPort', 1, 65535).default(9000),
    layers: z.array(z.string().min(1)).default([]),
    provisionConfig: z.object({ target: int('provisionConfig.target', 0, 100).default(0) }).optional(),
    concurrencyConfig: z.object({ reservedConcurrency: int('concurrencyConfig.reservedConcurrency', 0, 1000).optional() }).optional(),
    nasConfig: z
      .object({ mountPoints: z.array(z.object({ serverAddr: z.string().optional(), nasDir: z.string().optional(), fcDir: z.string().optional(), mountDir: z.string().optional() })).default([]) })
      .optional(),
    // fc-local's own: build steps (s.yaml `actions` and MCP templates' `build` arrive here).
    build: z.object({ steps: z.array(z.object({ run: z.string().min(1), path: z.string().optional(), from: z.string().optional() })).default([]) }).optional(),
    ossMountConfig: z
      .object({ mountPoints: z.array(z.object({ bucketName: z.string(), bucketPath: z.string().optional(), mountDir: z.string(), readOnly: z.boolean().optional() })).default([]) })
      .optional(),
    customRuntimeConfig: z
      .strictObject({
        command: z.array(z.string()).optional(),
        args: z.array(z.string()).optional(),
        // FC 3.0 puts the port here; it means caPort.
        port: int('customRuntimeConfig.port', 1, 65535).optional(),
      })
      .optional(),
    asyncConfiguration: z
      .strictObject({
        maxAsyncRetryAttempts: int('maxAsyncRetryAttempts', 0, 8).optional(),
        maxAsyncEventAgeInSeconds: int('maxAsyncEventAgeInSeconds', 1, 86_400).optional(),
        statefulInvocation: z.boolean().optional(),
        destination: z.strictObject({ onSuccess: functionArn.optional(), onFailure: functionArn.optional() }).optional(),
      })
      .optional(),
    // Function AI's MCP servers (component fcai-mcp-server): the transport and start command.
    mcp: z.strictObject({ transport: oneOf('transport', ['stdio', 'sse', 'streamable-http'] as const), startCommand: z.string().min(1, 'startCommand must not be empty') }).optional(),
    sessionAffinity: sessionAffinity.optional(),
    sessionAffinityConfig: sessionAffinityConfig.optional(),
    // SESSION_EXCLUSIVE: an instance per session; the other modes (SHARE, REQUEST_EXCLUSIVE) have no local difference.
    instanceIsolationMode: z.string().optional(),
    triggers: z.record(z.string(), trigger).default({}),
  })
  .superRefine((f, ctx) => {
    const affinity = f.sessionAffinity;
    if (affinity === 'HEADER_FIELD') {
      const name = f.sessionAffinityConfig?.affinityHeaderFieldName;
      if (name === undefined) ctx.addIssue({ code: 'custom', path: ['sessionAffinityConfig'], message: 'HEADER_FIELD affinity needs sessionAffinityConfig.affinityHeaderFieldName: the request header that carries the session ID' });
      else if (!AFFINITY_HEADER_RE.test(name) || name.toLowerCase().startsWith('x-fc-')) {
        ctx.addIssue({ code: 'custom', path: ['sessionAffinityConfig', 'affinityHeaderFieldName'], message: `affinityHeaderFieldName must start with a letter, then letters, digits, - or _, 5-40 characters, and not start with x-fc- (got ${JSON.stringify(name)})` });
      }
    }
    const triggers = Object.entries(f.triggers);
    if (triggers.length > LIMITS.triggersPerFunction) {
      ctx.addIssue({ code: 'custom', path: ['triggers'], message: `a function has at most ${LIMITS.triggersPerFunction} triggers (found ${triggers.length})` });
    }
    const http = triggers.filter(([, t]) => t.type === 'http');
    if (http.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['triggers', http[1]![0]], message: 'a function has at most one HTTP trigger' });
    }
    if (f.runtime === 'custom-container' && !f.customContainerConfig) {
      ctx.addIssue({ code: 'custom', path: ['runtime'], message: 'a custom-container function needs customContainerConfig.image' });
    }
    if (f.codeUri === undefined && f.runtime !== 'custom-container') ctx.addIssue({ code: 'custom', path: ['codeUri'], message: 'codeUri is required' });
    if (f.handler === undefined) {
      if (f.runtime !== 'custom-container') ctx.addIssue({ code: 'custom', path: ['handler'], message: 'handler is required' });
      return;
    }
    const notEmulated = (NOT_EMULATED_RUNTIMES as readonly string[]).includes(f.runtime);
    const handlerOk = notEmulated || f.runtime.startsWith('custom')
      ? true
      : f.runtime.startsWith('java')
      ? /^[\w$.]+::[\w$]+$/.test(f.handler)
      : f.runtime.startsWith('custom') || /^[^.]+(\.[^.]+)+$/.test(f.handler);
    if (!handlerOk) {
      const form = f.runtime.startsWith('java') ? '{package}.{class}::{method}' : '{file}.{function}';
      ctx.addIssue({ code: 'custom', path: ['handler'], message: `handler '${f.handler}' must have the form ${form} for ${f.runtime}` });
    }
  })
  .transform((f) => ({ ...f, handler: f.handler ?? '' }));

const service = z
  .strictObject({
    description: z.string().optional(),
    // A role ARN, or the fc component's {name, policies} (a role s deploy creates): its name here.
    role: z.union([z.string(), z.looseObject({ name: z.string().optional() }).transform((r) => r.name)]).optional(),
    logConfig: z.strictObject({ project: z.string(), logstore: z.string() }).optional(),
    internetAccess: z.boolean().optional(),
    vpcConfig: z.record(z.string(), z.unknown()).optional(),
    functions: z.record(z.string(), fn).default({}),
  })
  .superRefine((s, ctx) => {
    const n = Object.keys(s.functions).length;
    if (n > LIMITS.functionsPerService) {
      ctx.addIssue({ code: 'custom', path: ['functions'], message: `a service has at most ${LIMITS.functionsPerService} functions (found ${n})` });
    }
  });

const rewriteRules = z.array(z.strictObject({ match: z.string().min(1), replacement: z.string() })).optional();
const customDomain = z.strictObject({
  protocol: z.string().default('HTTP'),
  certConfig: z.record(z.string(), z.unknown()).optional(),
  tlsConfig: z.record(z.string(), z.unknown()).optional(),
  wafConfig: z.record(z.string(), z.unknown()).optional(),
  routeConfig: z.strictObject({
    routes: z
      .array(
        z.strictObject({
          path: z.string().regex(/^\//, { error: 'a route path starts with / (e.g. /, /api/*, /*)' }),
          // FC 3.0 routes name a function only: its functions have no service.
          serviceName: z.string().default(''),
          functionName: z.string().min(1),
          qualifier: z.string().optional(),
          methods: z.array(oneOf('methods', HTTP_METHODS)).optional(),
          rewriteConfig: z.strictObject({ equalRules: rewriteRules, wildcardRules: rewriteRules, regexRules: rewriteRules }).optional(),
        }),
      )
      .min(1, 'a custom domain needs at least one route'),
  }),
});

export const templateSchema = z
  .strictObject({
    region: z.string().default('cn-hangzhou'),
    // Account ids are digits; YAML reads unquoted ones as numbers.
    accountId: z.union([z.string(), z.number()]).transform(String).default('1234567890123456'),
    services: z.record(z.string(), service, { error: 'services must be a map of service name to service' }),
    customDomains: z.record(z.string(), customDomain).default({}),
  })
  .superRefine((t, ctx) => {
    // FC 2.0 (functions in a named service) allows instanceConcurrency up to 100; FC 3.0's
    // functions (no service) 200.
    for (const [svc, sv] of Object.entries(t.services)) {
      if (svc === '') continue;
      for (const [name, f] of Object.entries(sv.functions)) {
        if (f.instanceConcurrency > 100) ctx.addIssue({ code: 'custom', path: ['services', svc, 'functions', name, 'instanceConcurrency'], message: `instanceConcurrency must be 1-100 in an FC 2.0 service (FC 3.0 functions allow 200) (got ${f.instanceConcurrency})` });
      }
    }
    for (const [domain, d] of Object.entries(t.customDomains)) {
      d.routeConfig.routes.forEach((r, i) => {
        if (!t.services[r.serviceName]?.functions[r.functionName]) {
          ctx.addIssue({ code: 'custom', path: ['customDomains', domain, 'routeConfig', 'routes', i, 'functionName'], message: `route ${r.path} of ${domain} targets ${r.serviceName}/${r.functionName}, which is not in the template` });
        }
        for (const rule of r.rewriteConfig?.regexRules ?? []) {
          try {
            new RegExp(rule.match);
          } catch {
            ctx.addIssue({ code: 'custom', path: ['customDomains', domain, 'routeConfig', 'routes', i, 'rewriteConfig'], message: `regex rule '${rule.match}' is not a valid regular expression` });
          }
        }
      });
    }
  });

export type RawTemplate = z.output<typeof templateSchema>;
