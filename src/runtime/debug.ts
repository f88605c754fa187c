import { runtimeFamily, type FunctionSpec } from '../model.js';

// Debugging one function: its instance starts under a debugger server that waits for a client
// (Node's inspector, debugpy, JDWP), on a fixed port the developer's IDE attaches to.

/** What `--debug-port`, `--debug-function`, `--debug-args` and `--debugger-path` ask for. */
export interface DebugTarget {
  /** service/function */
  fn: string;
  port: number;
  /** Extra interpreter arguments, before the agent's script (for other debuggers). */
  args: string[];
  /** A host folder of debugger files (debugpy for an image without it). */
  debuggerPath?: string;
}

/** What a backend needs to start one instance under the debugger. */
export interface InstanceDebug {
  port: number;
  args: string[];
  /** The debugger folder as the instance sees it (host path, or the container's mount). */
  debuggerDir?: string;
}

/** Where a Docker instance sees `--debugger-path`. */
export const DEBUGGER_IN_CONTAINER = '/var/fc-local/debugger';

/** The protocol a runtime's debugger speaks, for messages and IDE configurations. */
export function debuggerKind(fn: FunctionSpec): 'node' | 'debugpy' | 'jdwp' | 'custom' | undefined {
  switch (runtimeFamily(fn.runtime)) {
    case 'nodejs':
      return 'node';
    case 'python':
      return 'debugpy';
    case 'java':
      return 'jdwp';
    case 'custom':
      return 'custom';
    default:
      return undefined;
  }
}

/**
 * The line a runtime's debugger prints once it accepts clients, inside the instance: the
 * announcement waits for it, since a port published by a container engine accepts (and then
 * drops) connections before anything listens behind it. A custom bootstrap's debugger is its own
 * business: undefined.
 */
export function debuggerListeningLine(fn: FunctionSpec): RegExp | undefined {
  switch (debuggerKind(fn)) {
    case 'node':
      return /^Debugger listening on /;
    case 'debugpy':
      return /^fc-local: debugpy listening on /;
    case 'jdwp':
      return /^Listening for transport dt_socket at address/;
    default:
      return undefined;
  }
}

/** A line listener that calls `then` once, at the first line saying the debugger listens. */
export function onDebuggerListening(fn: FunctionSpec, then: () => void): ((line: string) => void) | undefined {
  const re = debuggerListeningLine(fn);
  if (!re) return undefined;
  let said = false;
  return (line) => {
    if (said || !re.test(line)) return;
    said = true;
    then();
  };
}

/** Splits `--debug-args` as a shell would split plain words and quoted strings. */
export function splitArgs(text: string | undefined): string[] {
  if (!text) return [];
  const words: string[] = [];
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) words.push(m[1]?.replace(/\\(.)/g, '$1') ?? m[2] ?? m[3]!);
  return words;
}

interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * The launch of an agent (or bootstrap) under its debugger, listening on bindHost:port.
 * Interpreter options go before the agent's script; the script's own arguments stay last.
 */
export function underDebugger<L extends Launch>(launch: L, fn: FunctionSpec, debug: InstanceDebug, bindHost: string): L {
  const script = launch.args.slice(-1);
  const options = launch.args.slice(0, -1);
  switch (debuggerKind(fn)) {
    case 'node': {
      // Node 6 predates --inspect-brk; it pauses with --debug-brk beside --inspect.
      const inspect = fn.runtime === 'nodejs6' ? [`--inspect=${bindHost}:${debug.port}`, '--debug-brk'] : [`--inspect-brk=${bindHost}:${debug.port}`];
      return { ...launch, args: [...inspect, ...debug.args, ...options, ...script] };
    }
    case 'debugpy': {
      // The agent itself listens with debugpy and waits for the client, so that it can say when
      // one attached and explain a missing debugpy.
      const pythonPath = [debug.debuggerDir, launch.env.PYTHONPATH].filter(Boolean).join(':');
      const env = { ...launch.env, FC_LOCAL_DEBUG_LISTEN: `${bindHost}:${debug.port}`, ...(pythonPath ? { PYTHONPATH: pythonPath } : {}) };
      return { ...launch, args: [...options, ...debug.args, ...script], env };
    }
    case 'jdwp': {
      // An explicit host works on every JDK (8 reads "N" as all interfaces, 9+ as loopback only).
      const jdwp = `-agentlib:jdwp=transport=dt_socket,server=y,suspend=y,address=${bindHost}:${debug.port}`;
      return { ...launch, args: [jdwp, ...debug.args, ...launch.args] };
    }
    default:
      // A custom bootstrap starts its own program: it reads where to listen from its environment.
      return { ...launch, env: { ...launch.env, FC_DEBUG_PORT: String(debug.port), FC_DEBUG_HOST: bindHost, FC_DEBUG_ARGS: debug.args.join(' ') } };
  }
}
