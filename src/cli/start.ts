import type { Command } from 'commander';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { allFunctions, findFunction, type Template, fnKey } from '../model.js';
import { createRuntime } from '../runtime/index.js';
import { loadCredentials, SECRET_ENV_VARS } from '../template/profile.js';
import { scrubEnvironment } from '../runtime/host/scrub-env.js';
import { formatError } from '../template/source.js';
import { AsyncQueue } from '../runtime/async/queue.js';
import { createGateway } from '../gateway/app.js';
import { chooseBackend, openTemplate, UsageError } from './common.js';
import { lineWriter } from './line-writer.js';
import { startHotReload } from './hot-reload.js';
import { EventSources } from '../events/index.js';
import { codeInfo } from '../runtime/code-checksum.js';
import path from 'node:path';

interface StartOptions {
  template?: string;
  port: string;
  host: string;
  backend: string;
  auth: boolean;
  concurrency: string;
  idleTimeout: string;
  asyncBackoff: string;
  asyncConcurrency: string;
  stateDir?: string;
  image?: string;
  warm: string;
  watch: boolean;
  ossDir?: string;
  logDir?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('serve every function of the template: the FC invoke API and HTTP triggers on one local port')
    .option('-t, --template <file>', 'template file (default: fc.yml, fc.yaml, template.yml, template.yaml)')
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', '8000')
    .option('--host <host>', 'address to bind; anything but loopback exposes your functions to the network', '127.0.0.1')
    .option('--backend <kind>', 'auto | docker | process: where instances run', 'auto')
    .option('--image <image>', 'Docker backend: run every runtime in this image (per runtime: fc-local.json {"images": {...}})')
    .option('--warm <n>', 'start n instances of every function before serving', '0')
    .option('--oss-dir <dir>', 'folder with one folder per OSS bucket (default: .fc-local/oss beside the template)')
    .option('--log-dir <dir>', 'folder of <logstore>.jsonl files feeding Log triggers (default: .fc-local/log beside the template)')
    .option('--no-watch', 'do not reload functions when their code or the template changes')
    .option('--no-auth', 'accept unsigned API requests and authType=function triggers (handy with curl)')
    .option('--concurrency <n>', 'account-wide limit of concurrent executions; past it requests get 429', '100')
    .option('--idle-timeout <seconds>', 'stop an instance after it has been idle this long', '600')
    .option('--async-backoff <ms>', 'first delay before retrying a failed async invocation (doubles with each retry)', '1000')
    .option('--async-concurrency <n>', 'async invocations run at once at most, so that queued work leaves room for sync callers', '10')
    .option('--state-dir <dir>', "fc-local's own state, e.g. the journal of accepted async invocations (default: .fc-local beside the template)")
    .addHelpText(
      'after',
      `
Routes:
  POST /2016-08-15/services/{service}/functions/{function}/invocations   the invoke API
  GET  /2016-08-15/services[/...]                                         services, functions, triggers
  ANY  /2016-08-15/proxy/{service}/{function}/{path}                      HTTP triggers

Signed requests use the local credentials: ALIBABA_CLOUD_ACCESS_KEY_ID and
ALIBABA_CLOUD_ACCESS_KEY_SECRET, or ~/.fcli/config.yaml (access_key_id, access_key_secret).

Examples:
  $ fc-local start -t fc.yml.example
  $ curl http://127.0.0.1:8000/2016-08-15/proxy/demo/web/hello?x=1
`,
    )
    .action(async (opts: StartOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (got ${opts.port})`);
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a positive whole number (got ${opts.concurrency})`);
      const idle = Number(opts.idleTimeout);
      if (!(idle > 0)) throw new UsageError(`--idle-timeout must be a positive number of seconds (got ${opts.idleTimeout})`);
      const backoff = Number(opts.asyncBackoff);
      if (!(backoff >= 0)) throw new UsageError(`--async-backoff must be a number of milliseconds (got ${opts.asyncBackoff})`);
      const asyncConcurrency = Number(opts.asyncConcurrency);
      if (!Number.isInteger(asyncConcurrency) || asyncConcurrency < 1) throw new UsageError(`--async-concurrency must be a positive whole number (got ${opts.asyncConcurrency})`);
      const warm = Number(opts.warm);
      if (!Number.isInteger(warm) || warm < 0) throw new UsageError(`--warm must be a whole number (got ${opts.warm})`);

      const { file, result } = openTemplate(opts.template);
      if (!result.template) {
        for (const e of result.errors) console.error(formatError(e));
        throw new UsageError(`${file} is not valid (${result.errors.length} errors)`);
      }
      let template: Template = result.template;
      const out = lineWriter(process.stdout);
      const selected = await chooseBackend(opts.backend, { template, image: opts.image, log: (l) => out(`fc-local ${l}`) });
      const credentials = loadCredentials();
      scrubEnvironment(SECRET_ENV_VARS);
      const color = process.stdout.isTTY ? (s: string) => `\x1b[36m${s}\x1b[0m` : (s: string) => s;
      const runtime = createRuntime({
        backend: selected.backend,
        credentials,
        template: () => template,
        concurrencyLimit: concurrency,
        idleTimeoutMs: idle * 1000,
        onEvent: (e) => {
          const name = `${fnKey(e.fn)}`;
          if (e.type === 'started') out(`fc-local ${name}: instance started in ${e.instance.startedMs} ms`);
          else if (e.type === 'stopped' && e.why === 'idle') out(`fc-local ${name}: idle instance stopped`);
          else if (e.type === 'exited') out(`fc-local ${name}: instance exited (${e.signal ?? `code ${e.code}`}); the next request starts another`);
        },
        onLine: (fn, line) => {
          out(`${color(`${fnKey(fn)}`)} ${line}`);
          // A service's logConfig logstore gets its functions' output, as in FC, so that one
          // function's logs can feed another's Log trigger.
          const logConfig = template.services.find((s) => s.name === fn.service)?.logConfig;
          if (logConfig) events.logs.append(logConfig.logstore, [{ message: line, serviceName: fn.service, functionName: fn.name }]);
        },
      });
      let base = '';
      const templateDir = path.dirname(path.resolve(file));
      const events = new EventSources({
        invoker: runtime.invoker,
        template: () => template,
        log: (l) => out(`fc-local ${l}`),
        ossDir: path.resolve(opts.ossDir ?? path.join(templateDir, '.fc-local', 'oss')),
        logDir: path.resolve(opts.logDir ?? path.join(templateDir, '.fc-local', 'log')),
        baseUrl: () => base,
      });
      const asyncInvocations = new AsyncQueue(runtime.invoker, {
        dir: path.resolve(opts.stateDir ?? path.join(templateDir, '.fc-local'), 'async'),
        concurrency: asyncConcurrency,
        backoffMs: backoff,
        maxThrottledMs: 5 * 60 * 60_000,
        gate: runtime.pools.gate,
        lookup: (s, f) => findFunction(template, s, f),
        region: template.region,
        accountId: template.accountId,
        log: (l) => out(`fc-local ${l}`),
      });
      if (warm > 0) {
        out(`fc-local warming ${warm} instance(s) of each function ...`);
        await Promise.all(allFunctions(template).map((f) => runtime.pools.pool(f).warm(warm).catch((err: Error) => out(`fc-local could not warm ${fnKey(f)}: ${err.message}`))));
      }
      const now = new Date().toISOString();
      const listener = createGateway({
        template: () => template,
        invoker: runtime.invoker,
        credentials,
        auth: opts.auth,
        times: { createdTime: now, lastModifiedTime: now },
        async: asyncInvocations,
        log: (l) => out(`fc-local ${l}`),
        extraRoutes: events.router(),
      });

      // In flight: requests being answered. Draining: shutting down, new requests are refused.
      let inFlight = 0;
      let draining = false;
      const server = http
        .createServer((req, res) => {
          if (draining) {
            res.writeHead(503, { 'Content-Type': 'application/json', Connection: 'close' });
            res.end(JSON.stringify({ ErrorCode: 'ServiceUnavailable', ErrorMessage: 'fc-local is shutting down' }));
            return;
          }
          inFlight++;
          res.once('close', () => inFlight--);
          listener(req, res);
        })
        .listen(port, opts.host);
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(new UsageError(err.code === 'EADDRINUSE' ? `port ${port} on ${opts.host} is in use; pick another with --port` : `cannot listen on ${opts.host}:${port}: ${err.message}`)),
        );
      }).catch(async (err) => {
        await runtime.close();
        throw err;
      });
      // Instances answer quickly; keep client connections open for reuse like FC's front ends.
      server.keepAliveTimeout = 65_000;
      const addr = server.address() as AddressInfo;
      base = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
      await events.apply(template);
      // Checksums for X-Fc-Code-Checksum, computed in the background before the first request.
      for (const f of allFunctions(template)) void codeInfo(f.codeUri);
      const reload = opts.watch
        ? await startHotReload({
            templateFile: path.resolve(file),
            template: () => template,
            setTemplate: (t) => (template = t),
            pools: runtime.pools,
            out,
            onApplied: (t) => events.apply(t),
          })
        : undefined;
      printBanner(out, { file, template, base, backend: selected.description, auth: opts.auth, credentialsSource: credentials.source, concurrency, watch: opts.watch, events: events.describe(template) });
      if (!LOOPBACK.has(opts.host)) out(`WARNING: listening on ${opts.host}: anyone who can reach this machine can invoke your functions`);

      asyncInvocations.start();

      // Ctrl-C: stop accepting, let in-flight invocations finish (each within its timeout), keep
      // queued async invocations in the journal for the next start. A second Ctrl-C forces.
      let signals = 0;
      const stop = async (signal: string) => {
        if (++signals > 1) {
          out(`fc-local: ${signal} again: stopping now, in-flight invocations are cut`);
          process.exitCode = 130;
          setImmediate(() => process.exit(130));
          return;
        }
        draining = true;
        out(`fc-local: ${signal}: finishing ${inFlight} request(s) in flight and ${asyncInvocations.pending ? 'running async invocations' : 'no async invocation'}; queued async invocations are kept for the next start (${signal} again to force)`);
        server.close();
        // Idle keep-alive connections go now, busy ones as soon as their answer is out.
        const closer = setInterval(() => server.closeIdleConnections(), 50);
        server.closeIdleConnections();
        await reload?.close();
        await events.close();
        await asyncInvocations.close();
        while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
        clearInterval(closer);
        server.closeAllConnections();
        await runtime.close();
        out('fc-local: stopped');
        // Let the batched output drain before exiting.
        setImmediate(() => process.exit(0));
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}

function printBanner(
  out: (l: string) => void,
  b: { file: string; template: Template; base: string; backend: string; auth: boolean; credentialsSource: string; concurrency: number; watch: boolean; events: string[] },
): void {
  out(`fc-local serving ${b.file} (${b.template.format === 'funcraft' ? 'Funcraft' : 'fc.yml'} format, region ${b.template.region})`);
  out(`  backend      ${b.backend}`);
  out(
    `  auth         ${b.auth ? `signed requests required for the API and authType=function triggers; credentials: ${b.credentialsSource}` : 'off (--no-auth): unsigned requests accepted'}`,
  );
  out(`  concurrency  ${b.concurrency} executions at once`);
  out(`  reload       ${b.watch ? 'on: saved code and template changes apply without a restart (--no-watch turns it off)' : 'off (--no-watch)'}`);
  out('');
  const rows: [string, string, string][] = [];
  for (const f of allFunctions(b.template)) {
    rows.push(['POST', `${b.base}/2016-08-15/services/${f.service}/functions/${f.name}/invocations`, `${fnKey(f)} (invoke API)`]);
    for (const t of f.triggers) {
      if (t.type === 'http') rows.push([t.config.methods.join(','), `${b.base}/2016-08-15/proxy/${fnKey(f)}/`, `${fnKey(f)} http trigger '${t.name}' (${t.config.authType})`]);
    }
  }
  const w0 = Math.max(6, ...rows.map((r) => r[0].length));
  const w1 = Math.max(5, ...rows.map((r) => r[1].length));
  out(`  ${'METHOD'.padEnd(w0)}  ${'ROUTE'.padEnd(w1)}  FUNCTION`);
  for (const r of rows) out(`  ${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`);
  if (b.events.length) {
    out('');
    out(`  EVENT SOURCES (inject with POST ${b.base}/_fc-local/events/{oss|log|cdn|timer} or fc-local events emit)`);
    for (const e of b.events) out(`  ${e}`);
  }
  out('');
  out(`fc-local listening on ${b.base} (Ctrl-C to stop)`);
}
