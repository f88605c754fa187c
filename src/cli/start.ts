import type { Command } from 'commander';
import { allFunctions, fnKey, type Credentials, type Template } from '../model.js';
import type { Backend } from '../runtime/backend.js';
import type { DebugTarget } from '../runtime/debug.js';
import { ProjectConfigError } from '../util.js';
import type { ServeOptions } from '../emulator/emulator.js';
import { UsageError } from './errors.js';
import { parseDuration } from '../runtime/clock.js';
import { lineWriter } from './line-writer.js';
import { functionConsole } from './console-budget.js';
import { addDebugOptions, type DebugFlags } from './debug.js';
import { addBackendOptions, type BackendFlags } from './backend-options.js';
import type { PoolEvent } from '../runtime/pool.js';

interface StartOptions extends DebugFlags, BackendFlags {
  readyFile?: string;
  ephemeral?: boolean;
  clock: string;
  template?: string;
  port: string;
  host: string;
  backend: string;
  auth: boolean;
  concurrency: string;
  standby: string;
  keepWarm?: string | true;
  idleTimeout: string;
  buildTimeout: string;
  asyncBackoff: string;
  asyncConcurrency: string;
  stateDir?: string;
  image?: string;
  warm: string;
  watch: boolean;
  ossDir?: string;
  ossPort: string;
  oss: string;
  logDir?: string;
  workbench: boolean;
  open?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function registerStart(program: Command): void {
  const cmd = program.command('start');
  addDebugOptions(cmd);
  cmd
    .description('serve every function of the template: the FC invoke API and HTTP triggers on one local port')
    .option('-t, --template <file>', 'template file (default: fc.yml, fc.yaml, template.yml, template.yaml)')
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', '8000')
    .option('--host <host>', 'address to bind; anything but loopback exposes your functions to the network', '127.0.0.1')
    .option('--backend <kind>', 'auto | docker | process: where instances run', 'auto')
    .option('--image <image>', 'Docker backend: run every runtime in this image (per runtime: fc-local.json {"images": {...}})');
  addBackendOptions(cmd)
    .option('--warm <n>', 'start n instances of every function before serving', '0')
    .option('--standby <n>', 'keep n idle instances of a function beyond its traffic once it has scaled out, so that the next scale-out is warm', '0')
    .option('--keep-warm [duration]', 'Docker backend: at a clean exit leave idle containers running this long (default 10m) for the next fc-local start of the same code to take over warm; removed after it')
    .option('--oss-dir <dir>', 'folder with one folder per OSS bucket (default: .fc-local/oss beside the template)')
    .option('--oss-port <port>', "the local OSS's own port (path-style requests; default: any free one)", '0')
    .option('--oss <where>', 'local: functions reach the local OSS by OSS\'s host names; remote: the real OSS', 'local')
    .option('--log-dir <dir>', 'folder of <logstore>.jsonl files feeding Log triggers (default: .fc-local/log beside the template)')
    .option('--no-watch', 'do not reload functions when their code or the template changes')
    .option('--no-workbench', 'do not serve the workbench page and metrics at /_fc-local/')
    .option('--open', 'open the workbench in the browser once serving')
    .option('--no-auth', 'accept unsigned API requests and authType=function triggers (handy with curl)')
    .option('--concurrency <n>', 'account-wide limit of concurrent executions; past it requests get 429', '100')
    .option('--idle-timeout <seconds>', 'stop an instance after it has been idle this long', '600')
    .option('--build-timeout <seconds>', 'a build step (s.yaml actions, build steps) that runs longer fails', '600')
    .option('--async-backoff <ms>', 'first delay before retrying a failed async invocation (doubles with each retry)', '1000')
    .option('--async-concurrency <n>', 'async invocations run at once at most, so that queued work leaves room for sync callers', '10')
    .option('--clock <kind>', 'real, or manual: timers, async retries, idle reaping and sessions follow a clock moved by POST /_fc-local/api/clock/advance (tests)', 'real')
    .option('--ephemeral', 'keep nothing: the local OSS, async journal, history and logstores in a temporary folder removed at exit (default: kept under .fc-local beside the template)')
    .option('--ready-file <file>', 'once serving, write the URL, credentials, local OSS, function URLs and the invocation waits to this JSON file (removed at exit): for test suites in any language')
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
      const serve = serveOptions(opts);
      const [{ backendSelection, chooseBackend, loadOrExplain }, { loadCredentials, SECRET_ENV_VARS }, { scrubEnvironment }, { printBanner }] = await Promise.all([
        import('./common.js'),
        import('../template/profile.js'),
        import('../runtime/host/scrub-env.js'),
        import('./banner.js'),
      ]);
      const { file, template } = loadOrExplain(opts.template);
      const debug = (await import('./debug-target.js')).debugTarget(opts, template);
      const out = lineWriter(process.stdout);
      const note = (l: string) => out(`fc-local ${l}`);
      const selected = await chooseBackend(opts.backend, { template, ...backendSelection(opts), log: note });
      const credentials = loadCredentials();
      scrubEnvironment(SECRET_ENV_VARS);
      const { emulator, ListenError } = await newEmulator(opts, { template, backend: selected.backend, credentials, debug, out, note });
      const base = await emulator.serve(serve).catch(async (err: unknown) => {
        await emulator.stop();
        throw err instanceof ListenError || err instanceof ProjectConfigError ? new UsageError(err.message) : err;
      });
      printBanner(out, { file, template, base, backend: selected.description, auth: serve.auth, credentialsSource: credentials.source, concurrency: Number(opts.concurrency), watch: serve.watch, debug, workbench: workbenchUrl(serve, base, emulator.workbenchToken), ...emulator.eventRoots, ossEndpoint: emulator.ossEndpoint, backendNotes: await selected.backend.notes?.(allFunctions(template)) });
      if (opts.readyFile) (await import('./ready-file.js')).announceReady(opts.readyFile, emulator, { template, file, base, credentials, auth: serve.auth, waits: serve.workbench !== false });
      if (opts.open && serve.workbench) openBrowser(workbenchUrl(serve, base, emulator.workbenchToken)!);
      if (!LOOPBACK.has(opts.host)) out(`WARNING: listening on ${opts.host}: anyone who can reach this machine can invoke your functions`);
      stopOnSignals(emulator, note);
    });
}

/** The emulator `start` serves, its functions' lines on the console. */
async function newEmulator(
  opts: StartOptions,
  p: { template: Template; backend: Backend; credentials: Credentials; debug: DebugTarget | undefined; out: (l: string) => void; note: (l: string) => void },
) {
  const color = process.stdout.isTTY ? (s: string) => `\x1b[36m${s}\x1b[0m` : (s: string) => s;
  const printed = functionConsole((key, line) => p.out(`${color(key)} ${line}`), p.note);
  // Loaded here, not at the top: `validate` and `events generate` never pay for it.
  const { Emulator, ListenError } = await import('../emulator/emulator.js');
  const emulator = new Emulator({
    template: p.template,
    backend: p.backend,
    credentials: p.credentials,
    note: p.note,
    concurrency: Number(opts.concurrency),
    idleTimeoutMs: Number(opts.idleTimeout) * 1000,
    standby: Number(opts.standby),
    buildTimeoutMs: Number(opts.buildTimeout) * 1000,
    onFunctionLine: (fn, line) => printed.line(fnKey(fn), line),
    onPoolEvent: (e) => notePoolEvent(e, p.note),
    debug: p.debug,
    clock: clockKind(opts.clock),
  });
  return { emulator, ListenError };
}

function workbenchUrl(serve: ServeOptions, base: string, token: string | undefined): string | undefined {
  return serve.workbench === false ? undefined : `${base}/_fc-local/${token ? `?token=${token}` : ''}`;
}

/** --open: the desktop's opener, detached; a machine without one just does not open. */
function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  void import('node:child_process').then(({ spawn }) => spawn(opener, [url], { detached: true, stdio: 'ignore' }).on('error', () => undefined).unref());
}

function notePoolEvent(e: PoolEvent, note: (l: string) => void): void {
  if (e.type === 'started') note(e.adopted ? `${fnKey(e.fn)}: instance taken over from the last run` : `${fnKey(e.fn)}: instance started in ${e.instance.startedMs} ms`);
  else if (e.type === 'stopped' && e.why === 'idle') note(`${fnKey(e.fn)}: idle instance stopped`);
  else if (e.type === 'exited') note(`${fnKey(e.fn)}: instance exited (${e.signal ?? `code ${e.code}`}); the next request starts another`);
  // Stopped by fc-local before its end was seen (a container's exit reaches us through the engine).
  else if (e.type === 'stopped' && e.why === 'discarded') note(`${fnKey(e.fn)}: instance ended (it crashed, timed out or failed to initialize); the next request starts another`);
}

function clockKind(raw: string): 'real' | 'manual' {
  if (raw !== 'real' && raw !== 'manual') throw new UsageError(`--clock must be real or manual (got ${raw})`);
  return raw;
}

function ossWhere(raw: string): 'local' | 'remote' {
  if (raw !== 'local' && raw !== 'remote') throw new UsageError(`--oss must be local or remote (got ${raw})`);
  return raw;
}

/** Checks the numeric options; every mistake is a usage error naming the option. */
function serveOptions(opts: StartOptions): ServeOptions {
  const num = (name: string, raw: string, ok: (n: number) => boolean, what: string) => {
    const n = Number(raw);
    if (!ok(n)) throw new UsageError(`--${name} must be ${what} (got ${raw})`);
    return n;
  };
  const whole = (n: number) => Number.isInteger(n);
  const port = num('port', opts.port, (n) => whole(n) && n >= 0 && n <= 65535, 'a port number');
  num('concurrency', opts.concurrency, (n) => whole(n) && n >= 1, 'a positive whole number');
  num('idle-timeout', opts.idleTimeout, (n) => n > 0, 'a positive number of seconds');
  num('build-timeout', opts.buildTimeout, (n) => n > 0, 'a positive number of seconds');
  const backoff = num('async-backoff', opts.asyncBackoff, (n) => n >= 0, 'a number of milliseconds');
  const asyncConcurrency = num('async-concurrency', opts.asyncConcurrency, (n) => whole(n) && n >= 1, 'a positive whole number');
  const warm = num('warm', opts.warm, (n) => whole(n) && n >= 0, 'a whole number');
  num('standby', opts.standby, (n) => whole(n) && n >= 0, 'a whole number');
  let keepWarmMs: number | undefined;
  if (opts.keepWarm !== undefined) {
    try {
      keepWarmMs = parseDuration(opts.keepWarm === true ? '10m' : opts.keepWarm);
    } catch (err) {
      throw new UsageError(`--keep-warm ${(err as Error).message}`);
    }
  }
  return {
    ...(keepWarmMs ? { keepWarmMs } : {}), port, host: opts.host, auth: opts.auth, asyncBackoffMs: backoff, asyncConcurrency, stateDir: opts.stateDir, ossDir: opts.ossDir, ossPort: num('oss-port', opts.ossPort, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number'), oss: ossWhere(opts.oss), logDir: opts.logDir, warm, watch: opts.watch, workbench: opts.workbench, ...(opts.ephemeral ? { ephemeral: true } : {}) };
}

/** Ctrl-C drains (see Emulator.stop); a second Ctrl-C stops at once. */
function stopOnSignals(emulator: { stop(): Promise<void>; requestsInFlight: number; pendingAsync: number }, note: (l: string) => void): void {
  let signals = 0;
  const stop = async (signal: string) => {
    if (++signals > 1) {
      note(`${signal} again: stopping now, in-flight invocations are cut`);
      setImmediate(() => process.exit(130));
      return;
    }
    note(`${signal}: finishing ${emulator.requestsInFlight} request(s) in flight and ${emulator.pendingAsync ? 'running async invocations' : 'no async invocation'}; queued async invocations are kept for the next start (${signal} again to force)`);
    await emulator.stop();
    note('stopped');
    // Let the batched output drain before exiting.
    setImmediate(() => process.exit(0));
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
