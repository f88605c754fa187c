import Docker from 'dockerode';
import http from 'node:http';
import { fnKey, isContainer, runtimeFamily, type ContainerSpec, type FunctionSpec } from '../../model.js';
import { delay } from '../../util.js';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { PassThrough } from 'node:stream';
import { AGENTS_DIR, agentLaunch, nodeBuiltinPackages, CHANNEL_SOCKET, CHANNEL_VAR, codeLocation, instanceVariables, layerDirs, layerPaths, NODE_BUILTINS_DIR } from '../agents.js';
import { AgentChannel } from '../channel.js';
import { SocketDirs } from '../host/socket-dirs.js';
import { InstanceStartError, type Backend, type ExitInfo, type InstanceHandle, type InstanceRequest, type InstanceService, type ParkedInstance } from '../backend.js';
import { forget, forgetExpired, nameInfo, ownedName, PARK_DIR, parkedName, parkedSocketDir, readRecord, recordFile, warmKey, writeRecord, type ParkRecord } from './parking.js';
import { awaitReady, startLimitMs, LineHub, waitForHttp, slowStartNote } from '../instance-io.js';
import { fullVariantOf, heavyPythonImports, imageFor, ImagePuller, isDefaultImage, isFcImage, type ImageChoice, type PullPolicy } from './images.js';
import { guard, guardianPid, nudgeGuardian } from '../host/guardian.js';
import { DEBUGGER_IN_CONTAINER } from '../debug.js';
import { RemoteCopies, removeLeftoverVolumes } from './remote-copies.js';

// Each instance is a container: code read-only at /code, the agent read-only, a tmpfs /tmp and
// nothing else writable, a non-root user, FC's limits (memory, pids and nofile 1024), and its
// port published on 127.0.0.1 only. Containers carry labels so that fc-local removes its own on
// exit and the leftovers of a crashed run, and never anyone else's.

// Our agents listen on 9000 in the container; a custom runtime on its caPort (FC's default 9000 too).
const AGENT_PORT = 9000;
const LABEL = 'fc-local';
// Outside /opt, which belongs to layers as in FC.
const AGENTS_IN_CONTAINER = '/var/fc-local/runtimes';
const BUILTINS_IN_CONTAINER = '/var/fc-local/node_modules';
/** fc-local's compiled TypeScript of the code dir (read-only), where the Node agent loads .ts modules from. */
const COMPILED_IN_CONTAINER = '/var/fc-local/compiled';
// FC runs functions as a user without root; any uid works without a passwd entry.
const USER = '10001:10001';
// Where an agent's socket folder is mounted.
const SOCKET_IN_CONTAINER = '/var/fc-local/sock';

export interface DockerBackendOptions {
  images: ImageChoice;
  /** Where images come from and when to pull them. */
  pull?: PullPolicy;
  startTimeoutMs?: number;
  /** Progress of image pulls, for the person waiting. */
  log?: (line: string) => void;
  /** The engine cannot see this machine's files (tcp://, ssh://, --remote): folders are copied into volumes. */
  remote?: boolean;
  /** The engine is Podman (its Docker-compatible API). */
  podman?: boolean;
  /** The engine's address and how it was found, for messages. */
  where?: string;
}

/** A folder of this machine the container sees at `target`. */
interface HostMount {
  host: string;
  target: string;
  readOnly: boolean;
  /** Said while a copy to a remote engine takes long. */
  what: string;
  /** Only these entries of the folder are needed (copied to a remote engine), keyed by `key`. */
  part?: { entries: string[]; key: string };
  /** fc-local's own files: a remote engine keeps their copy for later runs. */
  cache?: boolean;
}

export class DockerBackend implements Backend {
  readonly name = 'docker' as const;
  readonly session = randomUUID();
  /** Containers started at once: a few, adapting to how fast the engine starts them (start-limiter.ts). */
  readonly startLimits = { initial: 1, max: 8 };
  private readonly live = new Set<ContainerInstance>();
  private readonly puller: ImagePuller;
  /** Instances' socket folders, bind-mounted: the container's user needs no access to the root. */
  private readonly sockets = new SocketDirs(0o700);

  /** Copies of folders for an engine that cannot see them (undefined: bind mounts). */
  private readonly copies?: RemoteCopies;

  constructor(
    readonly docker: Docker,
    private readonly opts: DockerBackendOptions,
  ) {
    this.puller = new ImagePuller(docker, opts.log, opts.pull);
    guardSession(docker, this.session);
    if (opts.remote) this.copies = new RemoteCopies(docker, { [LABEL]: '1', [`${LABEL}.session`]: this.session, [`${LABEL}.host`]: os.hostname(), [`${LABEL}.pid`]: String(process.pid) }, opts.log);
  }

  /** Whether folders are copied to the engine rather than mounted. */
  get remote(): boolean {
    return this.copies !== undefined;
  }

  /**
   * Bind mounts where the engine sees this machine's files; elsewhere read-only volumes holding
   * copies (a writable mount's writes stay on the engine: said once per function).
   */
  private async mountsOf(image: string, mounts: HostMount[]): Promise<{ Binds?: string[]; Mounts?: Docker.MountConfig }> {
    const copies = this.copies;
    if (!copies) return { Binds: mounts.map((m) => `${m.host}:${m.target}${m.readOnly ? ':ro' : ''}`) };
    const volumes = await Promise.all(
      mounts.map(async (m) => {
        // A single file (a jar) goes inside the folder it was bound into.
        const file = statSync(m.host).isFile();
        const source = await copies.volumeFor(m, image);
        return { Type: 'volume' as const, Source: source, Target: file ? path.posix.dirname(m.target) : m.target, ReadOnly: m.readOnly };
      }),
    );
    return { Mounts: volumes };
  }

  /** Pulls `image` if the engine lacks it; the error says which image and how to use another. */
  ensureImage(image: string, fallback = false): Promise<string> {
    return this.puller.ensure(image, fallback);
  }

  /**
   * The image for a function: as chosen, except that a Python function importing what only the
   * offline image's --full variant has (scipy, matplotlib, opencv, scrapy) gets that variant when
   * the engine has it. Said once per function either way.
   */
  private async imageOf(fn: FunctionSpec): Promise<string> {
    const v = await this.variant(fn);
    if (!v) return imageFor(fn.runtime, this.opts.images);
    const key = `${fnKey(fn)}:${v.image}`;
    if (!this.saidVariant.has(key)) {
      this.saidVariant.add(key);
      this.opts.log?.(v.note);
    }
    return v.image;
  }

  /** The image and what to say of it, for a Python function that imports what only the --full variant has. */
  private async variant(fn: FunctionSpec): Promise<{ image: string; note: string } | undefined> {
    const image = imageFor(fn.runtime, this.opts.images);
    const full = runtimeFamily(fn.runtime) === 'python' ? fullVariantOf(image) : undefined;
    if (!full) return undefined;
    const heavy = heavyPythonImports(codeLocation(fn.codeUri).dir);
    if (!heavy.length) return undefined;
    const present = await this.docker
      .getImage(full)
      .inspect()
      .then(() => true, () => false);
    return present
      ? { image: full, note: `${fnKey(fn)} imports ${heavy.join(', ')}: running it on ${full}` }
      : { image, note: `${fnKey(fn)} imports ${heavy.join(', ')}, which ${image} lacks: build ${full} with scripts/build-runtime-image.sh --full (FC's Python runtime has them built in)` };
  }

  /** The banner's word on images: which functions run on the --full variant, or need it. */
  async notes(fns: FunctionSpec[]): Promise<string[]> {
    const found = await Promise.all(fns.map((f) => this.variant(f)));
    return found.flatMap((v, i) => {
      if (!v) return [];
      this.saidVariant.add(`${fnKey(fns[i]!)}:${v.image}`);
      return [v.note];
    });
  }

  private readonly saidVariant = new Set<string>();

  /** Ours, this run's, this host's, this process's: what cleanup and the guardian look for. */
  private labelsOf(fn: FunctionSpec): Record<string, string> {
    return {
      [LABEL]: '1',
      [`${LABEL}.session`]: this.session,
      [`${LABEL}.host`]: os.hostname(),
      [`${LABEL}.pid`]: String(process.pid),
      [`${LABEL}.function`]: fnKey(fn),
    };
  }

  async start(req: InstanceRequest): Promise<InstanceHandle> {
    try {
      return await this.startContainer(req);
    } catch (err) {
      throw this.asStartError(err, req.fn);
    }
  }

  /**
   * An engine that went away (or refused) mid-run fails the start with FC's start error and says
   * so; the next request tries the engine again, so serving resumes once it is back.
   */
  private asStartError(err: unknown, fn: FunctionSpec): unknown {
    if (err instanceof InstanceStartError || !(err instanceof Error)) return err;
    const code = (err as NodeJS.ErrnoException).code;
    const where = this.opts.where ?? 'its address';
    if (code && ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) {
      return new InstanceStartError(`the container engine at ${where} does not answer (${code}): start it again; fc-local tries it again at the next request to ${fnKey(fn)}`);
    }
    if ((err as { statusCode?: number }).statusCode !== undefined) return new InstanceStartError(`the container engine at ${where} could not start an instance of ${fnKey(fn)}: ${err.message}`);
    return err;
  }

  private async startContainer(req: InstanceRequest): Promise<InstanceHandle> {
    const { fn } = req;
    if (isContainer(fn)) return this.startOwnImage(req);
    // A runtime fc-local cannot launch says so before any image is looked for.
    if (runtimeFamily(fn.runtime) === 'not-emulated') agentLaunch(req, { agentsDir: '', codeDir: '', nodeBuiltinsDir: '' }, 0, '');
    // The name it runs under: behind the registry prefix, or fc-local's offline image in place of a default one that cannot be had.
    const image = await this.ensureImage(await this.imageOf(fn), isDefaultImage(fn.runtime, this.opts.images));
    // Our agents also listen on a Unix socket in a folder of their own on this machine: the
    // gateway reaches them without the engine's port proxy (where the engine shares this
    // machine's file system; otherwise it uses the published port). The Node agent speaks
    // fc-local's channel there, the others HTTP.
    const socketDir = supervised(fn) && !this.copies ? this.sockets.create('anyone', CHANNEL_SOCKET) : undefined;
    const { options, port, launch, codeSource } = await this.runtimeContainer(req, image, socketDir);
    // fc-local's services (the local OSS) on sockets beside the agent's: a container's loopback is its own.
    const services = socketDir ? await serveInFolder(socketDir, req.services ?? []) : { close: () => undefined };
    const container = await this.docker.createContainer(options);
    const instance = new ContainerInstance(container, this, port, codeSource, req.debug !== undefined, socketDir ? { dir: socketDir, channel: launch.speaksChannel === true } : undefined, options);
    this.live.add(instance);
    instance.closeServices = services.close;
    void instance.exited.then(() => {
      this.live.delete(instance);
      instance.closeServices();
    });
    const what = launch.printsMarkers ? `the ${fn.runtime} runtime (image ${image})` : `bootstrap in image ${image}`;
    // Under a debugger the instance waits for the developer to attach, however long.
    const timeoutMs = req.debug ? Infinity : startLimitMs(fn, 30_000, this.opts.startTimeoutMs);
    try {
      const onSlow = slowStartNote(`${fnKey(fn)}: ${what}`, timeoutMs, this.opts.log);
      await awaitReady({ instance, begin: () => instance.begin(), timeoutMs, what: `${what} for ${fnKey(fn)}`, onLine: req.onBootLine, onSlow });
    } catch (err) {
      // An image without the runtime's language: say which image, runtime and program.
      const output = err instanceof InstanceStartError ? (err.output ?? '') : '';
      const program = path.basename(launch.command);
      if (launch.printsMarkers && new RegExp(`(^|[\\s:/])${program.replace(/[.]/g, '\\.')}: (not found|No such file)`, 'm').test(output)) {
        throw new InstanceStartError(
          `the image ${image} has no ${program} for the ${fn.runtime} runtime of ${fnKey(fn)} (looked for \`${launch.command}\` on the image's PATH): ` +
            'name an image that has it (--image, fc-local.json "images"), or use fc-local\'s offline image (fc-local image build)',
          output,
        );
      }
      throw err;
    }
    await instance.useSocketIfReachable();
    return instance;
  }

  /**
   * What a container of one of our runtimes is made from: everything in it follows from the
   * request, the image and the socket folder, so that a parked container can be told to be the
   * same as a new one would be (warm restart).
   */
  private async runtimeContainer(req: InstanceRequest, image: string, socketDir: string | undefined): Promise<{ options: Docker.ContainerCreateOptions; port: number; launch: ReturnType<typeof agentLaunch>; codeSource: string }> {
    const { fn } = req;
    // A jar codeUri is a file: it goes inside /code, as FC unpacks code into one folder.
    const code = codeLocation(fn.codeUri);
    const codeFile = code.file ? `/code/${path.basename(code.file)}` : undefined;
    const port = runtimeFamily(fn.runtime) === 'custom' ? fn.caPort : AGENT_PORT;
    // Layers at /opt as FC has them (several: /opt/layer<i>); NAS/OSS mounts at their own paths.
    const layers = layerDirs(fn);
    const layersIn = layers.length === 1 ? ['/opt'] : layers.map((_, i) => `/opt/layer${i}`);
    for (const m of fn.mounts) {
      if (!existsSync(m.hostDir)) {
        mkdirSync(m.hostDir, { recursive: true });
        chmodSync(m.hostDir, 0o777); // the function runs as a user of its own
      }
    }
    const debuggerDir = req.debug?.debuggerPath ? DEBUGGER_IN_CONTAINER : undefined;
    const compiledDir = req.compiledDir ? COMPILED_IN_CONTAINER : undefined;
    const launch = agentLaunch(req, { agentsDir: AGENTS_IN_CONTAINER, codeDir: '/code', codeFile, nodeBuiltinsDir: BUILTINS_IN_CONTAINER, debuggerDir, compiledDir }, port, '0.0.0.0');
    const socketVar = launch.speaksChannel ? CHANNEL_VAR : 'FC_LOCAL_SOCKET';
    const servicesEnv = socketDir ? servicesVariables(req.services ?? []) : {};
    // A debugger attaches on the same port number on the host, which is loopback only as well.
    const debugPort = req.debug ? { [`${req.debug.port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(req.debug.port) }] } : {};
    const mb = 1024 * 1024;
    const options: Docker.ContainerCreateOptions = {
      Image: image,
      // Our agents run under the supervisor (hot reload restarts them in place); a custom
      // bootstrap is the container's own first process, as in FC.
      Cmd: supervised(fn) ? ['/bin/sh', `${AGENTS_IN_CONTAINER}/supervisor.sh`, launch.command, ...launch.args] : [launch.command, ...launch.args],
      // FC's own images start FC's runtime: ours runs instead.
      ...(isFcImage(image) ? { Entrypoint: [''] } : {}),
      Env: Object.entries({ TZ: 'UTC', HOME: '/tmp', LANG: 'C.UTF-8', ...layerPaths(layersIn), ...launch.env, ...servicesEnv, ...(socketDir ? { [socketVar]: `${SOCKET_IN_CONTAINER}/${CHANNEL_SOCKET}` } : {}) }).map(
        ([k, v]) => `${k}=${v}`,
      ),
      User: USER,
      WorkingDir: '/code',
      ExposedPorts: { [`${port}/tcp`]: {}, ...(req.debug ? { [`${req.debug.port}/tcp`]: {} } : {}) },
      Labels: this.labelsOf(fn),
      HostConfig: {
        ...(await this.mountsOf(image, [
          { host: code.file ?? code.dir, target: codeFile ?? '/code', readOnly: true, what: `the code of ${fnKey(fn)}` },
          { host: AGENTS_DIR, target: AGENTS_IN_CONTAINER, readOnly: true, what: "fc-local's agents", cache: true },
          // FC's built-in modules: where they are copied, only for Node.js and only they (not all of fc-local's packages).
          ...(!this.copies ? [{ host: NODE_BUILTINS_DIR, target: BUILTINS_IN_CONTAINER, readOnly: true, what: "FC's built-in modules" }] : []),
          ...(this.copies && runtimeFamily(fn.runtime) === 'nodejs'
            ? [{ host: NODE_BUILTINS_DIR, target: BUILTINS_IN_CONTAINER, readOnly: true, what: "FC's built-in Node.js modules", part: { entries: nodeBuiltinPackages().names, key: nodeBuiltinPackages().key }, cache: true }]
            : []),
          ...layers.map((l, i) => ({ host: l, target: layersIn[i]!, readOnly: true, what: `layer ${path.basename(l)}` })),
          ...fn.mounts.map((m) => ({ host: m.hostDir, target: m.dir, readOnly: m.readOnly === true, what: `the mount ${m.dir}` })),
          ...(req.debug?.debuggerPath ? [{ host: req.debug.debuggerPath, target: DEBUGGER_IN_CONTAINER, readOnly: true, what: 'the debugger' }] : []),
          ...(req.compiledDir ? [{ host: req.compiledDir, target: COMPILED_IN_CONTAINER, readOnly: true, what: `the compiled TypeScript of ${fnKey(fn)}` }] : []),
          ...(socketDir ? [{ host: socketDir, target: SOCKET_IN_CONTAINER, readOnly: false, what: 'the socket folder' }] : []),
        ])),
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': 'rw,exec,size=512m,mode=1777' },
        Memory: fn.memorySize * mb,
        MemorySwap: fn.memorySize * mb,
        PidsLimit: 1024,
        // FC's nofile. Not on Podman: a request naming any ulimit makes rootful Podman raise nproc to
        // its maximum, which fails where root may not raise limits; its containers.conf
        // default_ulimits apply instead (README: Podman).
        ...(this.opts.podman ? {} : { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 1024 }] }),
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        PortBindings: { [`${port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }], ...debugPort },
        LogConfig: { Type: 'none', Config: {} },
      },
    };
    return { options, port, launch, codeSource: code.file ?? code.dir };
  }

  /**
   * A custom container: the function's own image with its entrypoint and command, listening on
   * its caPort (FC's customContainerConfig.port), FC's variables in its environment. The image
   * must be on this machine (never pulled: it is the user's). It takes requests once its port
   * answers and, with healthCheckConfig, once its health check passes.
   */
  private async startOwnImage(req: InstanceRequest): Promise<InstanceHandle> {
    const { fn } = req;
    const c = fn.container!;
    try {
      await this.docker.getImage(c.image).inspect();
    } catch {
      throw new InstanceStartError(
        `the image ${c.image} of ${fnKey(fn)} is not on this machine: build it (docker build -t ${c.image} .), or have fc-local build it ("build": {"${fnKey(fn)}": {"context": "<dir>"}} in fc-local.json)`,
      );
    }
    const port = fn.caPort;
    for (const m of fn.mounts) {
      if (!existsSync(m.hostDir)) {
        mkdirSync(m.hostDir, { recursive: true });
        chmodSync(m.hostDir, 0o777);
      }
    }
    const options = await this.ownImageOptions(req);
    const container = await this.docker.createContainer(options);
    const instance = new ContainerInstance(container, this, port, c.image, false, undefined, options);
    this.live.add(instance);
    void instance.exited.then(() => this.live.delete(instance));
    // An image's program may take longer to come up than a runtime: the function's timeout, at least a minute.
    const what = `the image ${c.image} for ${fnKey(fn)} (expected to listen on port ${port}, customContainerConfig.port)`;
    // With a health check, that is the gate (and the app sees no request of fc-local's before it).
    if (c.healthCheck) {
      const off = req.onBootLine ? instance.onLine(req.onBootLine) : undefined;
      try {
        await instance.begin();
        await passesHealthCheck(instance, c.healthCheck, what);
      } catch (err) {
        await instance.stop();
        throw err instanceof InstanceStartError ? err : new InstanceStartError(`${what} failed to start: ${(err as Error).message}`);
      } finally {
        off?.();
      }
      return instance;
    }
    // FC's limit for a custom container's server, as for a custom runtime's (or --start-timeout).
    const timeoutMs = startLimitMs(fn, 30_000, this.opts.startTimeoutMs);
    await awaitReady({ instance, begin: () => instance.begin(), timeoutMs, what, onLine: req.onBootLine, onSlow: slowStartNote(what, timeoutMs, this.opts.log) });
    return instance;
  }

  /** What a custom container is made from (see runtimeContainer). */
  private async ownImageOptions(req: InstanceRequest): Promise<Docker.ContainerCreateOptions> {
    const { fn } = req;
    const c = fn.container!;
    const port = fn.caPort;
    const mb = 1024 * 1024;
    return {
      Image: c.image,
      ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
      ...(c.command ? { Cmd: c.command } : {}),
      Env: Object.entries({ TZ: 'UTC', ...instanceVariables(req, '/code', port, '0.0.0.0') }).map(([k, v]) => `${k}=${v}`),
      ExposedPorts: { [`${port}/tcp`]: {} },
      Labels: this.labelsOf(fn),
      HostConfig: {
        ...(await this.mountsOf(c.image, fn.mounts.map((m) => ({ host: m.hostDir, target: m.dir, readOnly: m.readOnly === true, what: `the mount ${m.dir}` })))),
        Tmpfs: { '/tmp': 'rw,exec,size=512m,mode=1777' },
        Memory: fn.memorySize * mb,
        MemorySwap: fn.memorySize * mb,
        PidsLimit: 1024,
        // The user's image may run as root and drop to a user of its own; nothing more.
        CapDrop: ['ALL'],
        CapAdd: ['CHOWN', 'SETUID', 'SETGID', 'NET_BIND_SERVICE'],
        SecurityOpt: ['no-new-privileges'],
        PortBindings: { [`${port}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
        LogConfig: { Type: 'none', Config: {} },
      },
    };
  }

  /** A code change restarts our agent inside its container; anything the container was made from replaces it. */
  canRestartInPlace(handle: InstanceHandle, before: FunctionSpec, after: FunctionSpec): boolean {
    // On a remote engine new code is a new copy, which a new container mounts.
    if (this.copies || !supervised(after) || containerKey(before) !== containerKey(after)) return false;
    const inst = handle as ContainerInstance;
    // A rewritten .zip unpacks to another folder than the one the container has mounted.
    return this.live.has(inst) && inst.codeSource === codeSourceOf(after);
  }

  async restartInPlace(handle: InstanceHandle, before: FunctionSpec, after: FunctionSpec): Promise<boolean> {
    if (!this.canRestartInPlace(handle, before, after)) return false;
    return (handle as ContainerInstance).restartAgent();
  }

  async park(handle: InstanceHandle, initialized: boolean, until: number): Promise<boolean> {
    const inst = handle as ContainerInstance;
    // Not on a remote engine (its copies go with this run), under a debugger, or with code built by this run (TypeScript).
    if (this.copies || !this.live.has(inst) || inst.debugging || !inst.options || inst.endReason()) return false;
    if (inst.options.HostConfig?.Binds?.some((b) => b.includes(`:${COMPILED_IN_CONTAINER}`))) return false;
    try {
      const info = await inst.container.inspect();
      const key = await warmKey(inst.options, inst.socket?.dir, inst.codeSource, info.Image);
      const address = await guardianAddress(this.docker);
      const name = parkedName(until);
      const from = inst.socket;
      let socket = from;
      if (from) {
        // Out of this run's folder, which goes at exit (the container's bind mount follows the folder).
        mkdirSync(PARK_DIR, { recursive: true, mode: 0o700 });
        socket = { ...from, dir: parkedSocketDir(inst.id) };
        renameSync(from.dir, socket.dir);
      }
      try {
        await inst.container.rename({ name });
      } catch (err) {
        if (from && socket) renameSync(socket.dir, from.dir);
        throw err;
      }
      inst.socket = socket;
      inst.detach();
      this.live.delete(inst);
      const guardian = guardianPid();
      writeRecord({ id: inst.id, name, until, key, fn: inst.options.Labels?.[`${LABEL}.function`] ?? '', initialized, innerPort: inst.innerPort, codeSource: inst.codeSource, ...(socket ? { socket } : {}), ...(guardian ? { guardian } : {}) });
      if (address) guard(`park ${inst.id} ${address} ${until} ${name} ${recordFile(inst.id)} ${socket?.dir ?? '-'}`);
      return true;
    } catch {
      // Not parked after all: the pool stops it as usual.
      return false;
    }
  }

  private parkedList?: Promise<Docker.ContainerInfo[]>;

  async parkedFor(req: InstanceRequest): Promise<ParkedInstance[]> {
    if (this.copies) return [];
    const { fn } = req;
    this.parkedList ??= this.docker.listContainers({ filters: { label: [`${LABEL}=1`, `${LABEL}.host=${os.hostname()}`], status: ['running'] } }).catch(() => []);
    // Claimed a few seconds before its time at the latest: the guardian removes it at its time.
    const soon = Date.now() + 5000;
    const mine = (await this.parkedList).filter((c) => c.Labels[`${LABEL}.function`] === fnKey(fn) && (nameInfo(c.Names[0] ?? '').parkedUntil ?? 0) > soon);
    const found: ParkedInstance[] = [];
    for (const c of mine) {
      const record = readRecord(c.Id);
      if (!record || record.name !== c.Names[0]?.replace(/^\//, '')) continue;
      // Another project's function of the same name: not ours to take or to remove.
      if (record.codeSource !== (isContainer(fn) ? fn.container!.image : codeSourceOf(fn))) continue;
      const image = isContainer(fn) ? fn.container!.image : await this.ensureImage(await this.imageOf(fn), isDefaultImage(fn.runtime, this.opts.images));
      const imageId = await this.docker
        .getImage(image)
        .inspect()
        .then((i) => i.Id, () => '');
      const same = isContainer(fn) ? await this.ownImageOptions(req) : (await this.runtimeContainer(req, image, record.socket?.dir)).options;
      const usable = imageId !== '' && c.ImageID === imageId && (await warmKey(same, record.socket?.dir, record.codeSource, imageId)) === record.key;
      const container = this.docker.getContainer(c.Id);
      // The name is the claim: one run renames it, another run's rename of the old name fails.
      const claimed = await this.docker
        .getContainer(record.name)
        .rename({ name: ownedName() })
        .then(() => true, () => false);
      if (!claimed) continue;
      this.claim(container, record);
      nudgeGuardian(record.guardian);
      if (!usable) {
        // This code's, made before it changed (or by another fc-local): of no use to anyone now.
        await container.remove({ force: true, v: true }).catch(() => undefined);
        forget(record);
        continue;
      }
      found.push({
        initialized: record.initialized,
        take: async (services) => {
          const inst = new ContainerInstance(container, this, record.innerPort, record.codeSource, false, record.socket, same);
          this.live.add(inst);
          if (record.socket) {
            const served = await serveInFolder(record.socket.dir, services ?? []);
            inst.closeServices = served.close;
          }
          void inst.exited.then(() => {
            this.live.delete(inst);
            inst.closeServices();
          });
          rmSync(recordFile(record.id), { force: true });
          try {
            await inst.resume();
            await waitForHttp([inst.port], '127.0.0.1', 5000, () => inst.endReason());
            await inst.useSocketIfReachable();
          } catch (err) {
            await inst.stop();
            throw err;
          }
          return inst;
        },
      });
    }
    return found;
  }

  /** This run removes a claimed container when it ends, however it ends; its socket folder too. */
  private claim(container: Docker.Container, record: ParkRecord): void {
    void guardianAddress(this.docker).then((a) => a && guard(`container ${container.id} ${a}`));
    if (record.socket) guard(`folder ${record.socket.dir}`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.live].map((i) => i.stop()));
    this.sockets.close();
    await this.copies?.close();
  }
}

/** Where the container finds each service's socket (by the variable the service names). */
function servicesVariables(services: InstanceService[]): Record<string, string> {
  return Object.fromEntries(services.map((s) => [s.envVar, `${SOCKET_IN_CONTAINER}/${s.name}.sock`]));
}

/** Serves each service on `<name>.sock` in the folder (a parked instance's stale socket replaced). */
async function serveInFolder(dir: string, services: InstanceService[]): Promise<{ close: () => void }> {
  const servers: http.Server[] = [];
  for (const s of services) {
    const file = path.join(dir, `${s.name}.sock`);
    rmSync(file, { force: true });
    const server = http.createServer(s.listener);
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(file, () => resolve()));
    // The function's user (not root) connects.
    chmodSync(file, 0o666);
    servers.push(server);
  }
  return {
    close: () => {
      for (const server of servers) {
        server.close();
        server.closeAllConnections();
      }
    },
  };
}

/** The host path mounted as the function's code (a zip's unpacked folder). */
function codeSourceOf(fn: FunctionSpec): string {
  const code = codeLocation(fn.codeUri);
  return code.file ?? code.dir;
}

/** Runtimes whose agent is ours and says its pid on the readiness probe. */
function supervised(fn: FunctionSpec): boolean {
  const family = runtimeFamily(fn.runtime);
  return family === 'nodejs' || family === 'python';
}

/** What a container is made from: a change here needs a new container. */
function containerKey(fn: FunctionSpec): string {
  return JSON.stringify([fn.runtime, fn.memorySize, fn.environmentVariables, fn.codeUri, fn.caPort, fn.layers, fn.mounts, fn.customRuntimeConfig]);
}

/** Whether an HTTP server answers there. */
function answersOn(where: { socketPath: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ ...where, path: '/', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** The agent's pid from its readiness answer (x-fc-local-agent-pid), if it answers. */
function agentPid(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      const pid = res.headers['x-fc-local-agent-pid'];
      resolve(typeof pid === 'string' ? pid : undefined);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Asks a supervised agent to exit for a restart; true once it said it would. */
function askRestart(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/_fc-local/restart', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 202);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

class ContainerInstance implements InstanceHandle {
  readonly host = '127.0.0.1';
  /** Its output comes through the engine's attach stream, which can trail the answer under load. */
  readonly outputLagMs = 100;
  port = 0;
  readonly exited: Promise<ExitInfo>;
  private readonly lines = new LineHub();
  private ended?: ExitInfo;
  private markExited!: (e: ExitInfo) => void;
  private removing?: Promise<void>;

  constructor(
    readonly container: Docker.Container,
    private readonly backend: DockerBackend,
    /** The port the instance listens on inside the container. */
    readonly innerPort: number,
    /** The host path mounted as its code. */
    readonly codeSource: string,
    /** Its runtime waits for a debugger at each start: a restart has no time limit. */
    readonly debugging: boolean,
    /** The host folder its agent puts its Unix socket in, if any, and whether the channel or HTTP is served there. */
    public socket?: { dir: string; channel: boolean },
    /** What it was created from (what a warm restart compares). */
    readonly options?: Docker.ContainerCreateOptions,
  ) {
    this.exited = new Promise((r) => (this.markExited = r));
  }

  get id(): string {
    return this.container.id;
  }

  socketPath?: string;
  channelPath?: string;

  /** Uses the agent's socket once it answers there (not where the engine runs in another machine's file system). */
  async useSocketIfReachable(): Promise<void> {
    if (!this.socket) return;
    const file = path.join(this.socket.dir, CHANNEL_SOCKET);
    for (let i = 0; i < 20 && !existsSync(file); i++) await delay(5, true);
    if (!existsSync(file) || !(await this.socketAnswers(file))) return;
    if (this.socket.channel) this.channelPath = file;
    else this.socketPath = file;
  }

  private socketAnswers(file: string): Promise<boolean> {
    return this.socket?.channel ? AgentChannel.reachable(file) : answersOn({ socketPath: file });
  }

  /** Stops the services it reaches on its socket folder (at its exit, or when it is parked). */
  closeServices: () => void = () => undefined;
  /** Left running for a later run (parked): this run no longer watches it. */
  private parked = false;
  private output?: NodeJS.ReadableStream;
  private readonly unwatch = new AbortController();

  /**
   * Lets go of it without stopping it (parked for a warm restart): no more output, no exit
   * watch, its services closed; its socket folder now lives at `socketDir`.
   */
  detach(): void {
    this.parked = true;
    this.unwatch.abort();
    (this.output as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    this.closeServices();
  }

  /** Takes over a running container (adopted from a parked run): its output from now on, its exit, its published port. */
  async resume(): Promise<void> {
    await this.attachOutput();
    this.watchExit();
    await this.learnPort();
  }

  private async attachOutput(): Promise<void> {
    const stream = await this.container.attach({ stream: true, stdout: true, stderr: true });
    this.output = stream;
    const out = new PassThrough();
    const err = new PassThrough();
    this.backend.docker.modem.demuxStream(stream, out, err);
    stream.on('end', () => {
      out.end();
      err.end();
    });
    this.lines.attach(out, 'stdout');
    this.lines.attach(err, 'stderr');
  }

  /** Attaches to the output, starts the container and learns its published port. */
  async begin(): Promise<void> {
    await this.attachOutput();
    await this.container.start();
    this.watchExit();
    await this.learnPort();
  }

  private async learnPort(): Promise<void> {
    const info = await this.container.inspect();
    const binding = info.NetworkSettings.Ports?.[`${this.innerPort}/tcp`]?.[0];
    // Ended already (a bootstrap that exits at once): that, not the port it no longer has, is the news.
    if (!binding && !info.State.Running) throw new Error(info.State.OOMKilled ? 'ran out of memory' : `exited with code ${info.State.ExitCode}`);
    if (!binding) throw new Error('the container has no published port');
    this.port = Number(binding.HostPort);
  }

  /**
   * SIGHUP to the supervisor: it ends the agent, empties /tmp and starts it again; done when an
   * agent with another pid answers on the same published port.
   */
  async restartAgent(timeoutMs = this.debugging ? Infinity : 15_000): Promise<boolean> {
    const before = await agentPid(this.port);
    if (!before || this.ended) return false;
    // Asked over the agent's own port (no round trip through the engine); SIGHUP if that fails.
    if (!(await askRestart(this.port))) await this.container.kill({ signal: 'SIGHUP' });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.ended) {
      const now = await agentPid(this.port);
      if (now && now !== before) {
        // The new agent listens on its socket right after its port.
        const file = this.channelPath ?? this.socketPath;
        if (file) for (let i = 0; i < 100 && !(await this.socketAnswers(file)); i++) await delay(2, true);
        return true;
      }
      await delay(5, true);
    }
    return false;
  }

  private watchExit(): void {
    void this.container.wait({ abortSignal: this.unwatch.signal }).then(
      (r: { StatusCode: number }) => this.onExit(r.StatusCode),
      () => this.waitAgain(),
    );
  }

  /**
   * The wait broke: the engine's connection, not necessarily the container. Once the engine
   * answers again, a container still running is watched again (it kept serving meanwhile on its
   * published port), a stopped or removed one has exited.
   */
  private async waitAgain(): Promise<void> {
    while (!this.ended && !this.parked) {
      try {
        const info = await this.container.inspect();
        if (info.State.Running) return this.watchExit();
        return this.onExit(info.State.ExitCode);
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return this.onExit(null);
        await delay(1000);
      }
    }
  }

  private async onExit(code: number | null): Promise<void> {
    if (this.ended || this.parked) return;
    let reason: string | undefined;
    try {
      const info = await this.container.inspect();
      if (info.State.OOMKilled) reason = 'OOM';
    } catch {
      reason = 'removed';
    }
    this.ended = { code, signal: null, reason };
    this.markExited(this.ended);
    void this.remove();
  }

  endReason(): string | undefined {
    if (!this.ended) return undefined;
    return this.ended.reason === 'OOM' ? 'ran out of memory' : `exited with code ${this.ended.code}`;
  }

  onLine(listener: Parameters<InstanceHandle['onLine']>[0]): () => void {
    return this.lines.on(listener);
  }

  echo(line: string): void {
    this.lines.emit(line, 'stdout');
  }

  /** The cgroup file with the container's peak memory, once found (undefined: not looked for yet; null: none). */
  private peakFile?: string | null;

  async maxMemoryMB(reportedKB?: number): Promise<number | undefined> {
    // The engine's cgroup files, when it runs on this machine (Docker's and Podman's, v1 then
    // v2); stats calls take a second, too slow for every invocation. The container's peak, not
    // the agent's own: it counts every process of the instance, as FC does. Elsewhere (an engine
    // in a VM or on another machine) the agent's own peak is the best there is.
    if (this.peakFile === undefined) {
      this.peakFile =
        [
          `/sys/fs/cgroup/memory/docker/${this.id}/memory.max_usage_in_bytes`,
          `/sys/fs/cgroup/memory/libpod_parent/libpod-${this.id}/memory.max_usage_in_bytes`,
          `/sys/fs/cgroup/system.slice/docker-${this.id}.scope/memory.peak`,
          `/sys/fs/cgroup/docker/${this.id}/memory.peak`,
          `/sys/fs/cgroup/machine.slice/libpod-${this.id}.scope/memory.peak`,
          `/sys/fs/cgroup/libpod_parent/libpod-${this.id}/memory.peak`,
        ].find((f) => existsSync(f)) ?? null;
    }
    if (!this.peakFile) return reportedKB ? Math.ceil(reportedKB / 1024) : undefined;
    try {
      return Math.ceil(Number(readFileSync(this.peakFile, 'utf8')) / (1024 * 1024));
    } catch {
      return undefined; // the container is gone
    }
  }

  private remove(): Promise<void> {
    this.removing ??= this.container.remove({ force: true, v: true }).then(
      () => undefined,
      () => undefined, // already gone (removed from outside, or auto-removed)
    );
    if (this.socket) void this.removing.then(() => rmSync(this.socket!.dir, { recursive: true, force: true }));
    return this.removing;
  }

  async stop(): Promise<void> {
    // Stopped after all (a park that failed half-way): watched again until it is gone.
    this.parked = false;
    await this.remove();
    // wait() may not answer for a container removed before it started.
    if (!this.ended) void this.onExit(null);
    await this.exited;
  }
}

/** If fc-local dies without cleaning up (kill -9), its guardian removes the containers labelled with this session. */
export function guardSession(docker: Docker, session: string): void {
  void guardianAddress(docker).then((a) => a && guard(`docker ${session} ${a}`));
}

/**
 * Where the guardian reaches the engine: its Unix socket, or plain tcp://host:port (over TLS or
 * SSH it cannot: such runs clean up on exit only). docker-modem keeps the socket as a path or as
 * a function that finds the default one.
 */
function guardianAddress(docker: Docker): Promise<string | undefined> {
  const modem = docker.modem as { socketPath?: unknown; protocol?: string; host?: string; port?: number | string };
  if (modem.protocol === 'http' && modem.host) return Promise.resolve(`tcp://${modem.host}:${modem.port ?? 2375}`);
  return Promise.resolve(typeof modem.socketPath === 'function' ? (modem.socketPath as () => unknown)() : modem.socketPath).then(
    (p) => (typeof p === 'string' ? p : undefined),
    () => undefined,
  );
}

/**
 * Removes containers left by fc-local runs that died without cleaning up: ours by label, on
 * this host, whose owning process is gone. Containers of running fc-local processes and
 * everything without our label are left alone.
 */
export async function removeLeftovers(docker: Docker): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=1`, `${LABEL}.host=${os.hostname()}`] } });
  let removed = 0;
  const now = Date.now();
  for (const c of list) {
    // Parked for a warm restart (--keep-warm): its time is not up (its guardian removes it then).
    const { parkedUntil, ownerPid } = nameInfo(c.Names[0] ?? '');
    if (parkedUntil !== undefined && parkedUntil > now) continue;
    // Adopted by a later run, which its name names; otherwise the run its labels name.
    const pid = ownerPid ?? Number(c.Labels[`${LABEL}.pid`]);
    if (pid && pid !== process.pid && isAlive(pid)) continue;
    if (pid === process.pid) continue;
    await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    if (parkedUntil !== undefined) {
      const record = readRecord(c.Id);
      if (record) forget(record);
    }
    removed++;
  }
  // Records of parked containers removed by other hands (docker rm, a restarted engine) once their time is up.
  forgetExpired(new Set(list.map((c) => c.Id)), now);
  // Copies made for a remote engine by runs that are gone.
  await removeLeftoverVolumes(docker, isAlive).catch(() => undefined);
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The oldest Engine API fc-local speaks (Docker 1.13, Podman 3 answer 1.25 or later). */
const MIN_API = [1, 25];

/** Why the engine's API is too old for fc-local, or undefined when it is recent enough. */
export async function engineApiProblem(docker: Docker, where: string): Promise<string | undefined> {
  let api: string | undefined;
  try {
    api = ((await docker.version()) as { ApiVersion?: string }).ApiVersion;
  } catch (err) {
    return `the engine at ${where} answers a ping but not /version: ${(err as Error).message}`;
  }
  const [major = 0, minor = 0] = (api ?? '').split('.').map(Number);
  if (major > MIN_API[0]! || (major === MIN_API[0] && minor >= MIN_API[1]!)) return undefined;
  return `the engine at ${where} speaks Docker API ${api ?? 'of an unknown version'}; fc-local needs ${MIN_API.join('.')} or later (Docker 1.13+, Podman 3+)`;
}

/** Whether an engine answers (DOCKER_HOST honoured), within `timeoutMs`. */
export async function dockerAnswers(docker: Docker, timeoutMs = 1500): Promise<boolean> {
  try {
    await Promise.race([docker.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref())]);
    return true;
  } catch {
    return false;
  }
}

/**
 * FC's healthCheckConfig as the gate of a new custom container: after initialDelaySeconds, a GET
 * of httpGetUrl every periodSeconds; successThreshold passes in a row let it take requests,
 * failureThreshold failures in a row end it with what it printed.
 */
async function passesHealthCheck(instance: ContainerInstance, h: NonNullable<ContainerSpec['healthCheck']>, what: string): Promise<void> {
  const url = `http://127.0.0.1:${instance.port}${h.httpGetUrl.startsWith('/') ? '' : '/'}${h.httpGetUrl}`;
  const lines: string[] = [];
  const off = instance.onLine((l) => lines.length < 50 && lines.push(l));
  try {
    await delay(h.initialDelaySeconds * 1000);
    let passed = 0;
    let failed = 0;
    let last = '';
    for (;;) {
      const gone = instance.endReason();
      if (gone) throw new InstanceStartError(`${what} ended before its health check passed: ${gone}`, lines.join('\n'));
      const ok = await fetch(url, { signal: AbortSignal.timeout(h.timeoutSeconds * 1000) }).then(
        async (r) => {
          last = `HTTP ${r.status}`;
          await r.arrayBuffer();
          return r.status >= 200 && r.status < 300;
        },
        (err: Error) => {
          last = err.name === 'TimeoutError' ? `no answer within ${h.timeoutSeconds}s` : err.message;
          return false;
        },
      );
      passed = ok ? passed + 1 : 0;
      failed = ok ? 0 : failed + 1;
      if (passed >= h.successThreshold) return;
      if (failed >= h.failureThreshold) {
        await instance.stop();
        throw new InstanceStartError(`${what} failed its health check (GET ${h.httpGetUrl}: ${last}) ${failed} times in a row`, lines.join('\n'));
      }
      await delay(h.periodSeconds * 1000);
    }
  } finally {
    off();
  }
}
