import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { allFunctions, fnKey, type FunctionSpec, type Template } from '../model.js';
import { debuggerKind, splitArgs, type DebugTarget } from '../runtime/debug.js';
import { pickFunction } from './common.js';
import type { DebugFlags } from './debug.js';
import { UsageError } from './errors.js';

/** The debug target the flags ask for, or undefined; mistakes are usage errors. */
export function debugTarget(flags: DebugFlags, template: Template, invoked?: FunctionSpec): DebugTarget | undefined {
  const rawPort = flags.debugPort ?? process.env.FC_LOCAL_DEBUG_PORT;
  if (rawPort === undefined || rawPort === '') {
    if (flags.debugFunction || flags.debugArgs || flags.debuggerPath) throw new UsageError('--debug-function, --debug-args and --debugger-path need --debug-port (-d)');
    return undefined;
  }
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--debug-port must be a port number (got ${rawPort})`);
  const fn = debuggedFunction(flags.debugFunction, template, invoked);
  if (!debuggerKind(fn)) throw new UsageError(`${fnKey(fn)} runs ${fn.runtime}, which fc-local does not run, so it cannot be debugged`);
  let debuggerPath: string | undefined;
  if (flags.debuggerPath) {
    debuggerPath = path.resolve(flags.debuggerPath);
    if (!existsSync(debuggerPath) || !statSync(debuggerPath).isDirectory()) throw new UsageError(`--debugger-path ${flags.debuggerPath} is not a folder`);
  }
  return { fn: fnKey(fn), port, args: splitArgs(flags.debugArgs), debuggerPath };
}

function debuggedFunction(named: string | undefined, template: Template, invoked?: FunctionSpec): FunctionSpec {
  if (invoked) {
    if (named && fnKey(pickFunction(template, named)) !== fnKey(invoked)) throw new UsageError(`invoke debugs the function it invokes (${fnKey(invoked)}), not ${named}`);
    return invoked;
  }
  if (named) return pickFunction(template, named);
  const fns = allFunctions(template);
  if (fns.length === 1) return fns[0]!;
  throw new UsageError(`say which function to debug with --debug-function: ${fns.map((f) => fnKey(f)).join(', ')}`);
}
