import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Outcome } from '../runtime/invoker.js';
import { EXIT, UsageError } from './errors.js';
import { addDebugOptions, type DebugFlags } from './debug.js';
import { addBackendOptions, type BackendFlags } from './backend-options.js';

interface InvokeOptions extends DebugFlags, BackendFlags {
  template?: string;
  eventFile?: string;
  event?: string;
  json?: boolean;
  backend: string;
  image?: string;
}

export function registerInvoke(program: Command): void {
  const cmd = program.command('invoke');
  addDebugOptions(cmd);
  cmd
    .argument('[function]', 'service/function, or just function when the name is unique')
    .description('invoke a function once, as FC would: result on stdout, logs on stderr')
    .option('-t, --template <file>', 'template file (default: fc.yml, fc.yaml, template.yml, template.yaml)')
    .option('-e, --event-file <file>', "event from a file, or '-' to read standard input")
    .option('--event <string>', 'event as a string')
    .option('--backend <kind>', 'auto | docker | process: where the instance runs', 'auto')
    .option('--image <image>', 'Docker backend: the image to run the function in');
  addBackendOptions(cmd)
    .option('--json', 'print one JSON object {requestId, result | error, errorType, logs, durationMs, billedDurationMs, maxMemoryUsedMB}')
    .addHelpText(
      'after',
      `
Exit status: 0 on success, 1 on a function error (the FC error JSON on stdout, its type on
stderr), 2 for usage or template errors.

Examples:
  $ fc-local invoke demo/hello --event '{"key":"value"}'
  $ fc-local events generate oss | fc-local invoke demo/on-events -e -
`,
    )
    .action(async (target: string | undefined, opts: InvokeOptions) => {
      const [{ backendSelection, chooseBackend, loadOrExplain, pickFunction }, { loadCredentials, SECRET_ENV_VARS }, { scrubEnvironment }] = await Promise.all([
        import('./common.js'),
        import('../template/profile.js'),
        import('../runtime/host/scrub-env.js'),
      ]);
      const { template } = loadOrExplain(opts.template);
      const fn = pickFunction(template, target);
      if (opts.event !== undefined && opts.eventFile !== undefined) throw new UsageError('give the event with -e or --event, not both');
      const debug = (await import('./debug-target.js')).debugTarget(opts, template, fn);
      const selected = await chooseBackend(opts.backend, { template, ...backendSelection(opts), oneShot: true, log: (l) => process.stderr.write(`fc-local ${l}\n`) });
      const credentials = loadCredentials();
      scrubEnvironment(SECRET_ENV_VARS);
      // The instance boots (in its own process) while the rest of fc-local loads here.
      const early = debug ? undefined : selected.backend.start({ fn, region: template.region, accountId: template.accountId });
      early?.catch(() => undefined); // the invocation reports a failed start
      const event = await readEvent(opts).catch(async (err: unknown) => {
        // The instance may still be starting: stop it once it is up, then the backend.
        await early?.then((h) => h.stop(), () => undefined);
        await selected.backend.close();
        throw err;
      });
      const { Emulator } = await import('../emulator/emulator.js');
      const emulator = new Emulator({
        template,
        backend: selected.backend,
        credentials,
        note: (l) => process.stderr.write(`fc-local ${l}\n`),
        // Live logs for people; --json collects them into the object instead.
        onFunctionLine: opts.json ? undefined : (_fn, line) => process.stderr.write(`${line}\n`),
        debug,
      });
      if (early) emulator.pools.pool(fn).adopt(early);
      try {
        printOutcome(await emulator.invoke(fn, event), opts.json === true);
      } finally {
        await emulator.stop();
      }
    });
}

/** Result on stdout (or one JSON object with --json), the error type on stderr; sets the exit code. */
function printOutcome(out: Outcome, json: boolean): void {
  if (json) {
    const text = out.body.toString('utf8');
    const payload = out.errorType ? { error: parseJson(text), errorType: out.errorType } : { result: text };
    const { requestId, logs, durationMs, billedDurationMs, maxMemoryUsedMB } = out;
    process.stdout.write(`${JSON.stringify({ requestId, ...payload, logs: logs.join('\n'), durationMs, billedDurationMs, maxMemoryUsedMB })}\n`);
  } else {
    process.stdout.write(out.body);
    if (out.errorType) {
      if (out.body.length) process.stdout.write('\n');
      process.stderr.write(`${out.errorType}\n`);
    }
  }
  process.exitCode = out.errorType ? EXIT.functionError : EXIT.ok;
}

async function readEvent(opts: InvokeOptions): Promise<Buffer> {
  if (opts.event !== undefined) return Buffer.from(opts.event);
  if (opts.eventFile === undefined) return Buffer.alloc(0);
  try {
    // Standard input as a stream until its end: a pipe may deliver slowly (a read of fd 0
    // would fail with EAGAIN when nothing has arrived yet).
    if (opts.eventFile === '-') return Buffer.concat(await process.stdin.toArray());
    return readFileSync(opts.eventFile);
  } catch (err) {
    throw new UsageError(`cannot read the event: ${(err as Error).message}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
