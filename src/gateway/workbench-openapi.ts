// The workbench's API (/_fc-local/api) described in OpenAPI 3.1, served at
// /_fc-local/api/openapi.json for clients and coding agents. test/openapi.test.ts checks it is
// valid and that each route answers as it says.

type Schema = Record<string, unknown>;

const str = { type: 'string' };
const int = { type: 'integer' };
const num = { type: 'number' };
const bool = { type: 'boolean' };
const arr = (items: Schema): Schema => ({ type: 'array', items });
const obj = (properties: Record<string, Schema>, required: string[] = [], extra = true): Schema => ({ type: 'object', properties, required, additionalProperties: extra });
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const q = (name: string, description: string, schema: Schema = str, required = false) => ({ name, in: 'query', required, description, schema });
const p = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: str });

const SOURCES = ['api', 'http', 'timer', 'oss', 'log', 'cdn', 'async', 'destination', 'library', 'workbench'];

const schemas: Record<string, Schema> = {
  Error: obj({ ErrorCode: str, ErrorMessage: str }, ['ErrorCode', 'ErrorMessage']),
  Function: obj(
    {
      key: str,
      service: str,
      name: str,
      runtime: str,
      handler: str,
      memorySize: int,
      timeout: int,
      instanceConcurrency: int,
      triggers: arr(obj({ name: str, type: str }, ['name', 'type'])),
      http: bool,
      urls: arr(str),
      instances: arr(obj({ id: str, state: { enum: ['starting', 'idle', 'busy', 'retiring', 'restarting'] }, busy: int, served: int, sessions: int }, ['id', 'state'])),
      sessions: obj({ type: str, perInstance: int, active: int }, ['type', 'perInstance', 'active']),
    },
    ['key', 'service', 'name', 'runtime', 'triggers', 'urls', 'instances'],
  ),
  InvocationSummary: obj(
    {
      seq: int,
      requestId: str,
      function: str,
      source: { enum: SOURCES },
      at: num,
      status: { enum: ['succeeded', 'failed', 'throttled'] },
      errorType: str,
      statusCode: int,
      durationMs: num,
      coldStart: bool,
      request: obj({ method: str, url: str }),
      spans: obj({ queueMs: num, startMs: num, initMs: num, asyncQueueMs: num, preFreezeMs: num }, ['queueMs', 'startMs', 'initMs']),
      cause: obj({ parent: str, what: str }),
      attempt: int,
      /** Its request headers, bodies and log were dropped to keep the history within its byte cap. */
      trimmed: bool,
    },
    ['seq', 'requestId', 'function', 'source', 'at', 'status'],
  ),
  Invocation: {
    allOf: [ref('InvocationSummary'), obj({ payload: str, result: str, logs: arr(str) }, ['payload', 'logs'])],
  },
  FinishedInvocation: obj(
    { function: str, requestId: str, source: { enum: SOURCES }, at: num, status: { enum: ['succeeded', 'failed', 'throttled'] }, errorType: str, result: str, resultEncoding: { enum: ['base64'] }, statusCode: int, logs: arr(str), attempt: int },
    ['function', 'requestId', 'source', 'at', 'status', 'logs'],
  ),
  InvokeResult: obj({ requestId: str, status: { enum: ['succeeded', 'failed', 'accepted'] }, result: str, errorType: str, statusCode: int, logs: arr(str), durationMs: num, coldStart: bool }, ['requestId', 'status']),
  LogLine: obj({ seq: int, at: num, function: str, stream: { enum: ['stdout', 'stderr'] }, line: str }, ['seq', 'at', 'function', 'stream', 'line']),
  Minute: obj({ minute: int, invocations: int, durationAvg: num, durationP99: num }, ['minute', 'invocations']),
  Oss: obj({ endpoint: str, region: str, accessKeyId: str, buckets: arr(str) }, ['endpoint', 'region', 'buckets']),
  OssListing: obj({ bucket: str, prefix: str, acl: str, prefixes: arr(str), objects: arr(obj({ key: str, size: int, lastModified: str, etag: str, contentType: str }, ['key', 'size'])), truncated: bool }, ['bucket', 'prefix', 'prefixes', 'objects']),
  OssWrite: obj({ seq: int, at: num, bucket: str, key: str, eventName: str, size: int, origin: str, invocations: arr(obj({ function: str, trigger: str, requestId: str })) }, ['seq', 'at', 'bucket', 'key', 'eventName']),
  ChainNode: obj(
    {
      requestId: str,
      function: str,
      source: str,
      cause: obj({ parent: str, what: str }),
      attempts: arr(obj({ at: num, attempt: int, status: str, errorType: str, durationMs: num, coldStart: bool, spans: obj({ queueMs: num, startMs: num, initMs: num }, ['queueMs', 'startMs', 'initMs']) }, ['at', 'status'])),
      writes: arr(obj({ at: num, bucket: str, key: str, eventName: str }, ['at', 'bucket', 'key', 'eventName'])),
      children: arr({ $ref: '#/components/schemas/ChainNode' }),
    },
    ['requestId', 'function', 'source', 'attempts', 'writes', 'children'],
  ),
  Clock: obj({ now: { type: 'string', format: 'date-time' }, manual: bool }, ['now', 'manual'], false),
};

/** The OpenAPI document of the workbench's API (paths relative to /_fc-local/api). */
export const WORKBENCH_OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'fc-local workbench API',
    version: '1',
    description:
      "What the workbench page uses, and what tests and coding agents may use: functions and their instances, recent invocations, logs and figures, invoking and firing events, the local OSS, waits for invocations, the clock and the state. Under a token (?token=, x-fc-local-token or the page's cookie) when fc-local listens beyond loopback.",
  },
  servers: [{ url: '/_fc-local/api' }],
  components: { schemas },
  paths: {
    '/': { get: { summary: 'What this emulator serves besides functions', responses: { 200: json(obj({ project: obj({ name: str, template: str }, ['name', 'template']), oss: ref('Oss'), routes: arr(str) }, ['project', 'oss', 'routes'])) } } },
    '/openapi.json': { get: { summary: 'This document', responses: { 200: json(obj({ openapi: str, paths: { type: 'object' } }, ['openapi', 'paths'])) } } },
    '/functions': { get: { summary: 'Functions with their triggers, URLs, instances and sessions', responses: { 200: json(arr(ref('Function'))) } } },
    '/invocations': {
      get: {
        summary: 'Recent invocations, newest first (the last 1,000)',
        parameters: [q('function', 'service/function or an FC 3.0 name'), q('status', 'succeeded, failed or throttled'), q('q', 'text in the request id, function, source, error type, URL or logs'), q('limit', 'at most this many', int)],
        responses: { 200: json(arr(ref('InvocationSummary'))), 400: error('a bad limit') },
      },
    },
    '/invocations/cursor': { get: { summary: "The feed's cursor now (for /invocations/next)", responses: { 200: json(obj({ cursor: int }, ['cursor'], false)) } } },
    '/invocations/next': {
      get: {
        summary: 'Waits for the first invocation finished after a cursor that matches (long poll)',
        parameters: [q('after', 'a cursor', int), q('function', 'service/function or a name'), q('source', 'comma-separated sources'), q('status', 'succeeded, failed or throttled'), q('timeout', 'ms, default 30000, at most 600000', int)],
        responses: { 200: json(obj({ cursor: int, invocation: ref('FinishedInvocation') }, ['cursor', 'invocation'], false)), 400: error('a bad argument'), 408: error('nothing matched in time') },
      },
    },
    '/invocations/{id}': { get: { summary: 'One recent invocation: request, result, logs', parameters: [p('id', 'its request id')], responses: { 200: json(ref('Invocation')), 404: error('not among the recent ones') } } },
    '/invocations/{id}/chain': { get: { summary: 'The chain it belongs to, as a tree from its root: attempts, OSS writes and what each caused', parameters: [p('id', 'its request id')], responses: { 200: json(ref('ChainNode')), 404: error('not among the recent ones') } } },
    '/invocations/{id}/replay': { post: { summary: 'Runs a recent invocation again, as it came', parameters: [p('id', 'its request id')], responses: { 200: json(ref('InvokeResult')), 404: error('not among the recent ones') } } },
    '/idle': { get: { summary: 'Waits until nothing runs or is queued', parameters: [q('timeout', 'ms, default 30000', int)], responses: { 200: json(obj({ idle: { const: true } }, ['idle'], false)), 408: error('still busy at the timeout') } } },
    '/invoke': {
      post: {
        summary: 'Invokes a function with an event, or an HTTP function with a request',
        requestBody: { required: true, content: { 'application/json': { schema: obj({ function: str, event: str, async: bool, http: obj({ method: str, path: str, query: str, headers: { type: 'object' }, body: str }) }, ['function']) } } },
        responses: { 200: json(ref('InvokeResult')), 400: error('a bad body'), 404: error('no such function') },
      },
    },
    '/event-templates': { get: { summary: 'Sample events for each trigger of the template', responses: { 200: json({ type: 'object' }) } } },
    '/events/{type}': { post: { summary: 'Fires an event (oss, log, cdn, timer) as its source would', parameters: [p('type', 'oss, log, cdn or timer')], requestBody: { content: { 'application/json': { schema: { type: 'object' } } } }, responses: { 200: json(arr({ type: 'object' })), 400: error('a bad event') } } },
    '/logs': { get: { summary: 'The last 2,000 lines the functions printed, oldest first', responses: { 200: json(arr(ref('LogLine'))) } } },
    '/series': { get: { summary: "Per-minute figures of the last hour (FC's metrics)", parameters: [q('function', 'one function, or all together')], responses: { 200: json(arr(ref('Minute'))) } } },
    '/stream': { get: { summary: 'Server-sent events: invocation, log, instances, oss', responses: { 200: { description: 'an event stream', content: { 'text/event-stream': { schema: str } } } } } },
    '/oss': { get: { summary: 'The local OSS: endpoint, region, buckets', responses: { 200: json(ref('Oss')) } } },
    '/oss/activity': { get: { summary: 'Recent OSS writes and deletes with the invocations each started, newest first', responses: { 200: json(arr(ref('OssWrite'))) } } },
    '/oss/buckets/{bucket}/objects': { get: { summary: "A folder level of a bucket", parameters: [p('bucket', 'the bucket'), q('prefix', 'the folder, ending in /')], responses: { 200: json(ref('OssListing')), 404: error('no such bucket') } } },
    '/oss/buckets/{bucket}/object': {
      get: { summary: 'Downloads an object', parameters: [p('bucket', 'the bucket'), q('key', 'the object', str, true)], responses: { 200: { description: 'the object', content: { 'application/octet-stream': { schema: str } } }, 404: error('no such object') } },
      put: { summary: 'Uploads an object (fires its triggers as the API would)', parameters: [p('bucket', 'the bucket'), q('key', 'the object', str, true)], requestBody: { content: { 'application/octet-stream': { schema: str } } }, responses: { 200: json(obj({ key: str, size: int, etag: str }, ['key', 'size'])) } },
      delete: { summary: 'Deletes an object', parameters: [p('bucket', 'the bucket'), q('key', 'the object', str, true)], responses: { 200: json(obj({ deleted: bool }, ['deleted'])) } },
    },
    '/clock': { get: { summary: "fc-local's clock", responses: { 200: json(ref('Clock')) } } },
    '/clock/advance': { post: { summary: 'Moves a manual clock forward, firing what falls due', requestBody: { required: true, content: { 'application/json': { schema: obj({ by: { oneOf: [str, num] } }, ['by']) } } }, responses: { 200: json(ref('Clock')), 400: error('a bad duration'), 409: error('the clock is real') } } },
    '/clock/set': { post: { summary: 'Sets a manual clock', requestBody: { required: true, content: { 'application/json': { schema: obj({ to: { oneOf: [str, num] } }, ['to']) } } }, responses: { 200: json(ref('Clock')), 400: error('a bad date'), 409: error('the clock is real') } } },
    '/state': {
      get: { summary: 'Saves the state as one archive (once running invocations finish)', responses: { 200: { description: 'a tar.gz archive', content: { 'application/gzip': { schema: str } } } } },
      put: { summary: "Replaces the state with an archive's", requestBody: { required: true, content: { 'application/gzip': { schema: str } } }, responses: { 200: json(obj({ loaded: int }, ['loaded'])), 400: error('a corrupt or foreign archive (the state is unchanged)') } },
      delete: { summary: 'Empties the state', responses: { 200: json(obj({ reset: { const: true } }, ['reset'])) } },
    },
  },
} as const;
