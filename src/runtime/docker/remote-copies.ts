import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pack } from 'tar-fs';
import { pack as packStream } from 'tar-stream';
import { fingerprint } from '../code-checksum.js';

// An engine that cannot see this machine's files (tcp://, ssh://, --remote) gets copies instead
// of bind mounts: each folder (code, agents, layers, ...) is copied once per content into a volume
// of the engine, through a container that is created but never started, and instances mount the
// volume read-only where the bind mount would be. New content is a new volume: a reload copies
// again and replaces the containers. A run's volumes carry its session's labels and go at close.
// fc-local's own parts (its agents, FC's built-in modules) are the same for every run of one
// version: those are kept on the engine as a cache, keyed by content, like an image.

const LABEL = 'fc-local';
/** Say that a copy is under way when it takes longer than this (never a silent wait). */
const QUIET_MS = 1000;
/** The last file a cached volume gets: a volume without it was cut short and is filled again. */
const COMPLETE = '.fc-local-complete';

export interface CopySource {
  /** A folder (its content is copied) or a file (copied to the volume's top level). */
  host: string;
  /** Said while a copy takes long. */
  what: string;
  /** Only these entries of the folder, keyed by what the caller says they hold (not walked). */
  part?: { entries: string[]; key: string };
  /** fc-local's own files: kept on the engine for later runs. */
  cache?: boolean;
}

export class RemoteCopies {
  private readonly volumes = new Map<string, Promise<string>>();

  constructor(
    private readonly docker: Docker,
    private readonly labels: Record<string, string>,
    private readonly log?: (line: string) => void,
  ) {}

  /** A volume holding `src` as it is now, copied with the help of `image` (any image the engine has). */
  async volumeFor(src: CopySource, image: string): Promise<string> {
    const { checksum, size } = src.part ? { checksum: createHash('sha256').update(src.part.key).digest('hex').slice(0, 16), size: 0 } : await fingerprint(src.host);
    const id = BigInt(src.part ? `0x${checksum}` : checksum).toString(36);
    const name = src.cache ? `fc-local-cache-${id}` : `fc-local-${this.labels[`${LABEL}.session`]!.slice(0, 8)}-${id}`;
    let ready = this.volumes.get(name);
    if (!ready) {
      ready = this.copy(src, image, name, size);
      this.volumes.set(name, ready);
      ready.catch(() => this.volumes.delete(name));
    }
    return ready;
  }

  private async copy(src: CopySource, image: string, name: string, size: number): Promise<string> {
    if (src.cache && (await this.holdsCopy(name, image))) return name;
    const t0 = Date.now();
    const said = setTimeout(() => this.log?.(`copying ${src.what}${size ? ` (${(size / 1e6).toFixed(1)} MB)` : ''} to the engine ...`), QUIET_MS);
    try {
      const labels = src.cache ? { [LABEL]: '1', [`${LABEL}.cache`]: '1' } : this.labels;
      await this.docker.createVolume({ Name: name, Labels: labels });
      await this.withHelper(name, image, async (helper) => {
        const file = statSync(src.host).isFile();
        const tar = pack(file ? path.dirname(src.host) : src.host, {
          ...(file ? { entries: [path.basename(src.host)] } : src.part ? { entries: src.part.entries } : {}),
          // fc-local's own state beside the code (OSS buckets, builds) is not the function's.
          ignore: (name) => path.basename(name) === '.fc-local',
          // Whoever owns the files here, the function's user there reads them (as a bind mount lets it).
          map: (header) => {
            header.uid = 0;
            header.gid = 0;
            header.mode = (header.mode ?? 0o644) | (header.type === 'directory' ? 0o555 : 0o444);
            return header;
          },
        });
        await helper.putArchive(tar, { path: '/fill' });
        if (src.cache) await helper.putArchive(markerTar(), { path: '/fill' });
      });
      if (Date.now() - t0 >= QUIET_MS) this.log?.(`copied ${src.what} to the engine in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return name;
    } finally {
      clearTimeout(said);
    }
  }

  /** Whether a cached volume is there and complete (its last file is). */
  private async holdsCopy(name: string, image: string): Promise<boolean> {
    const exists = await this.docker
      .getVolume(name)
      .inspect()
      .then(() => true, () => false);
    if (!exists) return false;
    return this.withHelper(name, image, async (helper) => {
      const archive = await helper.getArchive({ path: `/fill/${COMPLETE}` }).then(
        (stream) => stream,
        () => undefined,
      );
      archive?.resume();
      return archive !== undefined;
    });
  }

  /** A container that is created, never started, with the volume at /fill: the Engine API copies through it. */
  private async withHelper<T>(volume: string, image: string, use: (helper: Docker.Container) => Promise<T>): Promise<T> {
    const helper = await this.docker.createContainer({
      Image: image,
      Entrypoint: ['/bin/true'],
      Labels: this.labels,
      NetworkDisabled: true,
      HostConfig: { Mounts: [{ Type: 'volume', Source: volume, Target: '/fill' }] },
    });
    try {
      return await use(helper);
    } finally {
      await helper.remove({ force: true }).catch(() => undefined);
    }
  }

  /** Removes this session's volumes (their containers are gone by then); the cache stays. */
  async close(): Promise<void> {
    const names = await Promise.all([...this.volumes.values()].map((v) => v.catch(() => undefined)));
    this.volumes.clear();
    await Promise.all(names.filter((n): n is string => !!n && !n.startsWith('fc-local-cache-')).map((n) => this.docker.getVolume(n).remove({ force: true }).catch(() => undefined)));
  }
}

function markerTar(): NodeJS.ReadableStream {
  const tar = packStream();
  tar.entry({ name: COMPLETE, mode: 0o444 }, '');
  tar.finalize();
  return tar;
}

/** Removes volumes of fc-local runs on this host whose process is gone (after a crash); never the cache. */
export async function removeLeftoverVolumes(docker: Docker, isAlive: (pid: number) => boolean): Promise<void> {
  const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABEL}=1`, `${LABEL}.host=${os.hostname()}`] } });
  for (const v of Volumes ?? []) {
    const pid = Number(v.Labels?.[`${LABEL}.pid`]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await docker.getVolume(v.Name).remove({ force: true }).catch(() => undefined);
  }
}
