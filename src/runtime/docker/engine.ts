import Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Finds the container engine as the docker CLI does: DOCKER_HOST, then the docker context
// (DOCKER_CONTEXT or config.json's currentContext), then the sockets that Docker Engine, Docker
// Desktop, Colima, OrbStack, Rancher Desktop and Podman create. The banner says which was found.

export interface Engine {
  /** The engine's address, as DOCKER_HOST would spell it. */
  host: string;
  /** How it was found: "DOCKER_HOST", "docker context colima", "Podman's socket", ... */
  how: string;
  /** Options for dockerode. */
  options: Docker.DockerOptions;
  /** Whether the engine may not see this machine's files (tcp:// or ssh://): code is copied in, not mounted. */
  remote: boolean;
}

export class EngineAddressError extends Error {}

/** The first engine a docker CLI would use here (not yet asked whether it answers). */
export function findEngine(env: NodeJS.ProcessEnv = process.env, home = os.homedir(), systemRoot = '/'): Engine {
  if (env.DOCKER_HOST) return engineAt(env.DOCKER_HOST, 'DOCKER_HOST', env);
  const configDir = env.DOCKER_CONFIG ?? path.join(home, '.docker');
  const context = env.DOCKER_CONTEXT ?? currentContext(configDir);
  if (context && context !== 'default') {
    const meta = path.join(configDir, 'contexts', 'meta', createHash('sha256').update(context).digest('hex'), 'meta.json');
    let host: unknown;
    try {
      host = (JSON.parse(readFileSync(meta, 'utf8')) as { Endpoints?: { docker?: { Host?: unknown } } }).Endpoints?.docker?.Host;
    } catch {
      throw new EngineAddressError(`the docker context "${context}" (${env.DOCKER_CONTEXT ? 'DOCKER_CONTEXT' : path.join(configDir, 'config.json')}) has no readable ${meta}: \`docker context ls\` shows the contexts there are`);
    }
    if (typeof host !== 'string' || !host) throw new EngineAddressError(`the docker context "${context}" names no Docker endpoint (${meta})`);
    return engineAt(host, `docker context ${context}`, env, contextTls(configDir, context));
  }
  for (const [file, how] of knownSockets(env, home, systemRoot)) if (isSocket(file)) return engineAt(`unix://${file}`, how, env);
  return engineAt('unix:///var/run/docker.sock', 'the default socket', env);
}

/** The sockets engines create, in the order a developer's machine most likely has them. */
function knownSockets(env: NodeJS.ProcessEnv, home: string, systemRoot: string): [string, string][] {
  const runtimeDir = env.XDG_RUNTIME_DIR ?? (typeof process.getuid === 'function' ? `/run/user/${process.getuid()}` : '');
  return [
    [path.join(systemRoot, 'var/run/docker.sock'), 'the default socket'],
    [path.join(home, '.docker', 'run', 'docker.sock'), "Docker Desktop's socket"],
    [path.join(home, '.docker', 'desktop', 'docker.sock'), "Docker Desktop's socket"],
    [path.join(home, '.colima', 'default', 'docker.sock'), "Colima's socket"],
    [path.join(home, '.orbstack', 'run', 'docker.sock'), "OrbStack's socket"],
    [path.join(home, '.rd', 'docker.sock'), "Rancher Desktop's socket"],
    ...(runtimeDir ? [[path.join(runtimeDir, 'podman', 'podman.sock'), "Podman's socket (rootless)"] as [string, string]] : []),
    [path.join(systemRoot, 'run/podman/podman.sock'), "Podman's socket"],
  ];
}

function currentContext(configDir: string): string | undefined {
  try {
    const c = (JSON.parse(readFileSync(path.join(configDir, 'config.json'), 'utf8')) as { currentContext?: unknown }).currentContext;
    return typeof c === 'string' && c ? c : undefined;
  } catch {
    return undefined; // no config: the default context
  }
}

/** A context's TLS files, where `docker context create --docker "...,ca=,cert=,key="` stored them. */
function contextTls(configDir: string, context: string): { ca?: string; cert?: string; key?: string } | undefined {
  const dir = path.join(configDir, 'contexts', 'tls', createHash('sha256').update(context).digest('hex'), 'docker');
  if (!existsSync(dir)) return undefined;
  const read = (f: string) => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), 'utf8') : undefined);
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

function isSocket(file: string): boolean {
  try {
    return statSync(file).isSocket();
  } catch {
    return false;
  }
}

/** dockerode's options for an address the docker CLI accepts (unix://, tcp://, ssh://, npipe://). */
export function engineAt(host: string, how: string, env: NodeJS.ProcessEnv = process.env, tls?: { ca?: string; cert?: string; key?: string }): Engine {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new EngineAddressError(`${how} is not an engine address: ${host} (unix:///path, tcp://host:port or ssh://user@host)`);
  }
  const version = env.DOCKER_API_VERSION ? { version: `v${env.DOCKER_API_VERSION.replace(/^v/, '')}` } : {};
  switch (url.protocol) {
    case 'unix:':
      return { host, how, remote: false, options: { socketPath: decodeURIComponent(url.pathname), ...version } };
    case 'npipe:':
      return { host, how, remote: false, options: { socketPath: `//./pipe/${url.pathname.replace(/^\/+(\.\/)?(pipe\/)?/, '')}`, ...version } };
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const certDir = env.DOCKER_CERT_PATH;
      const files = certDir && env.DOCKER_TLS_VERIFY ? { ca: readIf(path.join(certDir, 'ca.pem')), cert: readIf(path.join(certDir, 'cert.pem')), key: readIf(path.join(certDir, 'key.pem')) } : tls;
      const secure = url.protocol === 'https:' || Boolean(files?.cert) || Boolean(env.DOCKER_TLS_VERIFY);
      return {
        host,
        how,
        remote: true,
        options: { protocol: secure ? 'https' : 'http', host: url.hostname, port: Number(url.port || (secure ? 2376 : 2375)), ...(secure && files ? files : {}), ...version },
      };
    }
    case 'ssh:':
      return {
        host,
        how,
        remote: true,
        options: { protocol: 'ssh', host: url.hostname, port: Number(url.port || 22), username: decodeURIComponent(url.username || os.userInfo().username), sshOptions: { agent: env.SSH_AUTH_SOCK }, ...version },
      };
    default:
      throw new EngineAddressError(`${how}: fc-local does not speak ${url.protocol}// to an engine (${host}); use unix://, tcp:// or ssh://`);
  }
}

function readIf(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/** A dockerode client for the engine found here. */
export function engineClient(engine: Engine = findEngine()): Docker {
  return new Docker(engine.options);
}
