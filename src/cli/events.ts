import type { Command } from 'commander';
import { sign, stringToSign } from '../gateway/signature.js';
import { DEFAULT_OSS_EVENT, apiGatewayEvent, cdnEvent, datahubEvent, iotEvent, logEvent, ossEvent, tablestoreEvent, timerEvent } from '../events/builders.js';
import { EXIT, UsageError } from './errors.js';

// `fc-local events generate`: sample events in the guide's shapes, for `invoke -e -`.
// `fc-local events emit`: the injection API of a running `start`.

interface EventOptions {
  bucket: string;
  key: string;
  eventName?: string;
  size: string;
  domain: string;
  objectPath: string[];
  logstore: string;
  project: string;
  record: string[];
  payload: string;
  triggerName: string;
  service?: string;
  function?: string;
  trigger?: string;
  region: string;
  accountId: string;
  method: string;
  path: string;
  body: string;
  port: string;
  host: string;
  async?: boolean;
}

const GENERATE_TYPES = ['oss', 'log', 'cdn', 'timer', 'tablestore', 'apigw', 'datahub', 'iot'] as const;
const EMIT_TYPES = ['oss', 'log', 'cdn', 'timer'] as const;
const collect = (v: string, prev: string[]) => [...prev, v];

function withOptions(cmd: Command): Command {
  return cmd
    .option('--bucket <name>', 'oss: bucket', 'my-bucket')
    .option('--key <key>', 'oss: object key', 'source/image.png')
    .option('--event-name <name>', 'oss: ObjectCreated:PutObject (default) ...; cdn: CachedObjectsRefreshed (default), CachedObjectsPushed, CachedObjectsBlocked, LogFileCreated')
    .option('--size <bytes>', 'oss: object size', '1024')
    .option('--domain <domain>', 'cdn: domain', 'www.example.com')
    .option('--object-path <path>', 'cdn: object path (repeatable)', collect, [])
    .option('--logstore <name>', 'log: logstore', 'my-logstore')
    .option('--project <name>', 'log: project', 'my-project')
    .option('--record <json>', 'log (emit): a record as JSON (repeatable)', collect, [])
    .option('--payload <text>', 'timer: payload', '')
    .option('--trigger-name <name>', 'timer (generate): trigger name', 'my-timer')
    .option('--service <name>', 'timer (emit): service')
    .option('--function <name>', 'timer (emit): function')
    .option('--trigger <name>', 'timer (emit): trigger')
    .option('--region <region>', 'region in the event', 'cn-hangzhou')
    .option('--account-id <id>', 'account id in the event', '1234567890123456')
    .option('--method <method>', 'apigw: HTTP method', 'GET')
    .option('--path <path>', 'apigw: request path', '/')
    .option('--body <text>', 'apigw: request body', '');
}

export function registerEvents(program: Command): void {
  const events = program.command('events').description('sample events for every trigger type, and injecting events into a running start');

  withOptions(events.command('generate').argument('<type>', GENERATE_TYPES.join(' | ')).description('print a sample event in the shape FC gives it to the function'))
    .addHelpText('after', '\nExample:\n  $ fc-local events generate oss --key uploads/a.png | fc-local invoke demo/on-events -e -\n')
    .action((type: string, o: EventOptions) => {
      process.stdout.write(`${JSON.stringify(generate(type, o), null, 2)}\n`);
    });

  withOptions(events.command('emit').argument('<type>', EMIT_TYPES.join(' | ')).description('inject an event into a running `fc-local start`; prints the invocations it caused'))
    .option('-p, --port <port>', 'port of the running start', '8000')
    .option('--host <host>', 'host of the running start', '127.0.0.1')
    .option('--async', 'do not wait for the invocations')
    .addHelpText('after', '\nExamples:\n  $ fc-local events emit oss --bucket demo-bucket --key uploads/a.png\n  $ fc-local events emit timer --service demo --function on-events --trigger every-5-minutes\n')
    .action(async (type: string, o: EventOptions) => {
      if (!(EMIT_TYPES as readonly string[]).includes(type)) throw new UsageError(`events emit takes ${EMIT_TYPES.join(', ')} (got ${type})`);
      const pathname = `/_fc-local/events/${type}`;
      const url = `http://${o.host}:${o.port}${pathname}${o.async ? '?async=true' : ''}`;
      // Signed with the local credentials, like any API call, so that it works with auth on.
      const headers: Record<string, string> = { 'content-type': 'application/json', date: new Date().toUTCString() };
      const { loadCredentials } = await import('../template/profile.js');
      const creds = loadCredentials();
      if (creds.accessKeyId) headers.authorization = sign(creds.accessKeyId, creds.accessKeySecret, stringToSign('POST', pathname, headers));
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(emitBody(type, o)) });
      } catch (err) {
        throw new UsageError(`no fc-local start answers at ${o.host}:${o.port} (${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message})`);
      }
      const text = await res.text();
      process.stdout.write(`${text}\n`);
      if (!res.ok) throw new UsageError(`the injection failed with ${res.status}`);
      const fired = JSON.parse(text) as { status: string }[];
      process.exitCode = fired.some((f) => f.status === 'failed' || f.status === 'throttled') ? EXIT.functionError : EXIT.ok;
    });
}

function generate(type: string, o: EventOptions): unknown {
  switch (type) {
    case 'oss':
      return ossEvent({ eventName: (o.eventName ?? DEFAULT_OSS_EVENT).replace(/^oss:/, ''), bucket: o.bucket, key: o.key, size: Number(o.size), region: o.region, accountId: o.accountId });
    case 'log':
      return logEvent({ endpoint: `http://${o.region}-intranet.log.aliyuncs.com`, projectName: o.project, logstoreName: o.logstore, begin: 0, end: 1, jobName: 'my-job', parameter: {} });
    case 'cdn':
      return cdnEvent({ eventName: o.eventName ?? 'CachedObjectsRefreshed', domain: o.domain, objectPath: o.objectPath.length ? o.objectPath : ['/index.html'], region: o.region, accountId: o.accountId });
    case 'timer':
      return timerEvent({ triggerName: o.triggerName, payload: o.payload });
    case 'tablestore':
      return tablestoreEvent();
    case 'apigw':
      return apiGatewayEvent({ method: o.method, path: o.path, body: o.body });
    case 'datahub':
      return datahubEvent({ region: o.region });
    case 'iot':
      return iotEvent();
    default:
      throw new UsageError(`events generate takes ${GENERATE_TYPES.join(', ')} (got ${type})`);
  }
}

function emitBody(type: string, o: EventOptions): unknown {
  switch (type) {
    case 'oss':
      return { bucket: o.bucket, key: o.key, size: Number(o.size), ...(o.eventName ? { eventName: o.eventName } : {}) };
    case 'cdn':
      return { eventName: o.eventName ?? 'CachedObjectsRefreshed', domain: o.domain, ...(o.objectPath.length ? { objectPath: o.objectPath } : {}) };
    case 'log':
      return {
        project: o.project,
        logstore: o.logstore,
        records: (o.record.length ? o.record : ['{"message":"hello from fc-local events emit"}']).map((r) => {
          try {
            return JSON.parse(r) as unknown;
          } catch {
            throw new UsageError(`--record must be JSON (got ${r})`);
          }
        }),
      };
    default:
      if (!o.service || !o.function || !o.trigger) throw new UsageError('events emit timer needs --service, --function and --trigger');
      return { service: o.service, function: o.function, trigger: o.trigger };
  }
}
