import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util.js';
import { createRequire } from 'node:module';
import { fnKey, isContainer, runtimeFamily, type FunctionSpec } from '../model.js';
import { InstanceStartError } from './backend.js';
import { isZip, unpackedDir } from './code-package.js';
import type { InstanceRequest } from './backend.js';
import { underDebugger } from './debug.js';

// How each runtime's instance is launched: our agent for a language, or the user's bootstrap
// for `custom`. Backends supply the paths as the instance sees them (host or container).

export const AGENTS_DIR = path.join(packageRoot(), 'runtimes');

/** The node_modules folder holding FC's built-in Node.js modules (raw-body, body, co). */
export const NODE_BUILTINS_DIR = path.resolve(
  path.dirname(createRequire(import.meta.url).resolve('raw-body/package.json')),
  '..',
);

/** The modules FC's Node.js runtime has built in, as the Node agent resolves them from NODE_BUILTINS_DIR. */
export const NODE_BUILTIN_MODULES = ['raw-body', 'body', 'co', 'gm', 'ali-oss', 'ali-mns', 'tablestore', 'aliyun-sdk', '@alicloud/fc2', '@alicloud/pop-core'];
/** Where legacy runtimes (nodejs6/8/10) find a built-in of another version (the agent's BUILTIN_DIRS). */
const LEGACY_BUILTIN_DIRS = ['ali-oss-4'];

/**
 * The packages of NODE_BUILTINS_DIR the built-ins need (they and their dependencies, by name):
 * what an engine that cannot see this machine gets a copy of, with their versions (the copy's key).
 */
export function nodeBuiltinPackages(): { names: string[]; key: string } {
  if (builtinClosure) return builtinClosure;
  const seen = new Map<string, string>();
  const depsOf = (dir: string): { version?: string; deps: string[] } | undefined => {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
      return { version: pkg.version, deps: [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})] };
    } catch {
      return undefined; // an optional dependency not installed
    }
  };
  // A package's own node_modules comes with it; what those need from the top level counts too.
  const nested = (dir: string): string[] => {
    const under = path.join(dir, 'node_modules');
    if (!existsSync(under)) return [];
    return readdirSync(under).flatMap((n) => (n.startsWith('@') ? readdirSync(path.join(under, n)).map((m) => path.join(under, n, m)) : [path.join(under, n)]));
  };
  const add = (name: string) => {
    if (seen.has(name)) return;
    const dir = path.join(NODE_BUILTINS_DIR, name);
    const own = depsOf(dir);
    if (!own) return;
    seen.set(name, own.version ?? '');
    const queue = [dir];
    for (let d = queue.shift(); d; d = queue.shift()) {
      for (const dep of depsOf(d)?.deps ?? []) add(dep);
      queue.push(...nested(d));
    }
  };
  [...NODE_BUILTIN_MODULES, ...LEGACY_BUILTIN_DIRS].forEach(add);
  const names = [...seen.keys()].sort();
  builtinClosure = { names, key: names.map((n) => `${n}@${seen.get(n)}`).join(',') };
  return builtinClosure;
}
let builtinClosure: { names: string[]; key: string } | undefined;

export interface AgentPaths {
  agentsDir: string;
  /** The code dir as the instance sees it (FC_FUNC_CODE_PATH). */
  codeDir: string;
  /** When codeUri is a single file (a jar), that file as the instance sees it, inside codeDir. */
  codeFile?: string;
  nodeBuiltinsDir: string;
  /** Interpreter overrides, e.g. the process backend runs Node agents with its own node. */
  node?: string;
  python?: string;
  /** For python2.7: the interpreter, or why there is none (the process backend looks on the host). */
  python27?: { found?: string; lookedFor: string };
  /** Cap the V8 heap at memorySize: stands in for a memory limit where the backend has none. */
  heapCap?: boolean;
  /** Debugger files (debugpy) the instance adds to its path when debugging. */
  debuggerDir?: string;
  /** The PHP interpreter (php on PATH by default). */
  php?: string;
  /** Compiled TypeScript of the code dir (see InstanceRequest.compiledDir), as the instance sees it. */
  compiledDir?: string;
}

export interface AgentLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Our agents print FC's Start/End markers themselves; a custom bootstrap does not. */
  printsMarkers: boolean;
  /** The agent serves fc-local's channel (channel.ts) on FC_LOCAL_CHANNEL when given one. */
  speaksChannel?: boolean;
}

/** The variable naming the Unix socket where an agent serves fc-local's channel. */
export const CHANNEL_VAR = 'FC_LOCAL_CHANNEL';
/** The variable naming a file descriptor where an agent writes a line once it listens (process backend). */
export const READY_FD_VAR = 'FC_LOCAL_READY_FD';
/** The channel socket's file name inside its instance's folder. */
export const CHANNEL_SOCKET = 'agent.sock';

/**
 * Where a function's code is: a folder, or a single file (a jar) whose folder serves as the code
 * dir, as FC unpacks code into one folder.
 */
export function codeLocation(codeUri: string): { dir: string; file?: string } {
  // A .zip is unpacked (once per version) and its folder is the code dir; a jar stays a jar.
  if (isZip(codeUri)) return { dir: unpackedDir(codeUri) };
  const isFile = statSync(codeUri, { throwIfNoEntry: false })?.isFile() ?? false;
  return isFile ? { dir: path.dirname(codeUri), file: codeUri } : { dir: codeUri };
}

export const JAVA_AGENT_JAR = path.join(AGENTS_DIR, 'java', 'fc-local-java-agent.jar');

/** A runtime fc-local cannot launch here (e.g. the Java agent is not built). */
export class UnsupportedRuntimeError extends Error {}

/**
 * The function's layers as folders on the host, in order (a zip is unpacked). A layer without
 * a local copy cannot be fetched here: the error says how to map it.
 */
export function layerDirs(fn: FunctionSpec): string[] {
  return fn.layers.map(({ arn, local }) => {
    if (!local) {
      throw new InstanceStartError(
        `layer ${arn} of ${fnKey(fn)} has no local copy: map it in fc-local.json beside the template, e.g. {"layers": {"${arn}": "./layers/my-layer"}} (a folder or a .zip)`,
      );
    }
    if (!existsSync(local)) throw new InstanceStartError(`layer ${arn} of ${fnKey(fn)} maps to ${local}, which does not exist`);
    return isZip(local) ? unpackedDir(local) : local;
  });
}

/** Where a runtime looks for a layer's modules (FC's /opt/nodejs/node_modules and /opt/python). */
export function layerPaths(layers: string[]): Record<string, string> {
  if (!layers.length) return {};
  return {
    NODE_PATH: layers.map((l) => path.join(l, 'nodejs', 'node_modules')).join(':'),
    PYTHONPATH: layers.map((l) => path.join(l, 'python')).join(':'),
  };
}

/** The variable naming a mount's stand-in folder on the process backend: /mnt/nas -> FC_LOCAL_MOUNT_MNT_NAS. */
export function mountVar(dir: string): string {
  return `FC_LOCAL_MOUNT_${dir.replace(/^\/+/, '').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`;
}

export function agentLaunch(req: InstanceRequest, paths: AgentPaths, port: number, bindHost: string): AgentLaunch {
  const launch = baseLaunch(req, paths, port, bindHost);
  if (!req.debug) return launch;
  return underDebugger(launch, req.fn, { port: req.debug.port, args: req.debug.args, debuggerDir: paths.debuggerDir }, bindHost);
}

/** The variables FC gives every instance (the function's own, then FC's), as fc-local sets them. */
export function instanceVariables(req: InstanceRequest, codeDir: string, port: number, bindHost: string): Record<string, string> {
  const { fn } = req;
  return {
    ...fn.environmentVariables,
    FC_FUNC_CODE_PATH: codeDir,
    FC_SERVER_PORT: String(port),
    FC_SERVER_HOST: bindHost,
    FC_SERVICE_NAME: fn.service,
    FC_FUNCTION_NAME: fn.name,
    FC_FUNCTION_HANDLER: fn.handler,
    FC_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    FC_REGION: req.region,
    FC_ACCOUNT_ID: req.accountId,
    FC_RUNTIME: fn.runtime,
    ...req.env,
  };
}

function baseLaunch(req: InstanceRequest, paths: AgentPaths, port: number, bindHost: string): AgentLaunch {
  const { fn } = req;
  const env: Record<string, string> = {
    ...instanceVariables(req, paths.codeDir, port, bindHost),
    ...(paths.codeFile ? { FC_LOCAL_CODE_FILE: paths.codeFile } : {}),
    ...req.env,
  };
  switch (runtimeFamily(fn.runtime)) {
    case 'nodejs':
      return {
        command: paths.node ?? 'node',
        args: [...(paths.heapCap ? [`--max-old-space-size=${fn.memorySize}`] : []), path.join(paths.agentsDir, 'nodejs', 'bootstrap.js')],
        env: { ...env, FC_LOCAL_NODE_BUILTINS_PATH: paths.nodeBuiltinsDir, FC_LOCAL_NODE_BUILTINS: NODE_BUILTIN_MODULES.join(','), ...(paths.compiledDir ? { FC_LOCAL_TS_OUT: paths.compiledDir } : {}) },
        printsMarkers: true,
        speaksChannel: true,
      };
    case 'python': {
      if (fn.runtime === 'python2.7' && paths.python27 && !paths.python27.found) {
        throw new UnsupportedRuntimeError(
          `the python2.7 runtime for ${fn.service}/${fn.name} needs a Python 2.7 interpreter, and there is none: looked for ${paths.python27.lookedFor}. ` +
            'Install one (pyenv install 2.7.18, or your system\'s python2.7 package), or use the Docker backend with a python:2.7 image',
        );
      }
      return {
        // python2.7 needs a Python 2 interpreter; python3.x runtimes run on the python3 there is.
        command: fn.runtime === 'python2.7' ? (paths.python27?.found ?? 'python2') : (paths.python ?? 'python3'),
        args: ['-u', path.join(paths.agentsDir, 'python', 'bootstrap.py')],
        env: { ...env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', PYTHONIOENCODING: 'utf-8' },
        printsMarkers: true,
      };
    }
    case 'java': {
      if (!paths.codeFile && existsSync(path.join(fn.codeUri, 'pom.xml'))) {
        throw new UnsupportedRuntimeError(
          `the codeUri of ${fn.service}/${fn.name} is a Maven project, not built code: run \`mvn package\` in it and point codeUri at target/<name>.jar`,
        );
      }
      if (!existsSync(JAVA_AGENT_JAR)) {
        throw new UnsupportedRuntimeError(`the Java agent is not built: run scripts/build-java-agent.sh (needs a JDK and gson) to serve ${fn.runtime}`);
      }
      const jar = path.join(paths.agentsDir, 'java', 'fc-local-java-agent.jar');
      const gson = path.join(paths.agentsDir, 'java', 'lib', 'gson.jar');
      return {
        command: 'java',
        // MaxRAM sizes the JVM from the function's memory, container limit or not.
        args: [`-XX:MaxRAM=${fn.memorySize}m`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${jar}:${gson}`, 'fclocal.Agent'],
        env,
        printsMarkers: true,
      };
    }
    case 'php':
      return { command: paths.php ?? 'php', args: [path.join(paths.agentsDir, 'php', 'bootstrap.php')], env, printsMarkers: true };
    case 'custom': {
      // A custom container is its image's own program: only the Docker backend runs it (see there).
      if (isContainer(fn)) {
        throw new UnsupportedRuntimeError(
          `${fn.service ? `${fn.service}/` : ''}${fn.name} is a custom container (image ${fn.container?.image ?? '?'}): it runs on the Docker backend only: start with --backend docker`,
        );
      }
      // A stdio MCP server gets fc-local's bridge in front, which starts the server per session.
      if (fn.mcp?.transport === 'stdio') {
        return { command: paths.node ?? 'node', args: [path.join(paths.agentsDir, 'mcp', 'bridge.js')], env: { ...env, FC_LOCAL_MCP_COMMAND: fn.mcp.startCommand }, printsMarkers: false };
      }
      // customRuntimeConfig.command replaces the code dir's bootstrap; args go after either.
      const [command, ...rest] = fn.customRuntimeConfig?.command?.length ? fn.customRuntimeConfig.command : [path.join(paths.codeDir, 'bootstrap')];
      // MCP servers that listen read their port from PORT more often than from FC_SERVER_PORT.
      const mcpPort: Record<string, string> = fn.mcp && fn.environmentVariables.PORT === undefined ? { PORT: String(port) } : {};
      return { command: command!, args: [...rest, ...(fn.customRuntimeConfig?.args ?? [])], env: { ...env, ...mcpPort }, printsMarkers: false };
    }
    case 'not-emulated':
      throw new UnsupportedRuntimeError(
        `fc-local does not emulate the ${fn.runtime} runtime of ${fn.service}/${fn.name}: deploy it to Function Compute to run it, ` +
          'or move it to a runtime fc-local runs (nodejs*, python*, java8/11, or custom with a bootstrap that starts your program)',
      );
  }
}
