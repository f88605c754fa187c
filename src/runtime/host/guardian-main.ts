import { rmSync } from 'node:fs';
import http from 'node:http';
import { killProcessesWith, RUN_VAR } from './proc-scan.js';

// fc-local's guardian: a small process that outlives fc-local. fc-local tells it, over its
// stdin, what it starts (`run <id>`, `pgid <n>`, `docker <session> <socket>`, `container <id>
// <socket>` for one it took over from an earlier run, `folder <path>` for a private folder to
// remove, one without spaces); when that pipe closes, because fc-local exited or was killed
// (kill -9 included), it ends every process and removes every container fc-local left, then
// exits. The exception is a container parked at a clean exit for a warm restart (`park <id>
// <socket> <until ms> <name> <record> <folder|->`): it waits until then and removes it if it
// still has that name (a later run that adopts it renames it), with its record and folder.
// It ignores the signals of the terminal so that Ctrl-C, which fc-local handles, does not end it
// first. Only Node's built-ins: it starts fast.

for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => {});

const runs = new Set<string>();
const groups = new Set<number>();
const dockers = new Map<string, string>();
const folders = new Set<string>();
/** Containers of other runs' sessions that this run took over. */
const containers = new Map<string, string>();
interface Parked {
  socket: string;
  until: number;
  name: string;
  record: string;
  folder?: string;
}
const parked = new Map<string, Parked>();

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  let nl: number;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const [cmd, a, b, c, d, e, f] = buffered.slice(0, nl).split(' ');
    buffered = buffered.slice(nl + 1);
    if (cmd === 'container' && a && b) {
      containers.set(a, b);
      parked.delete(a); // parked by this same process, taken back
    }
    else if (cmd === 'park' && a && b && c && d && e) {
      containers.delete(a);
      parked.set(a, { socket: b, until: Number(c), name: d, record: e, ...(f && f !== '-' ? { folder: f } : {}) });
    }
    if (cmd === 'run' && a) runs.add(a);
    else if (cmd === 'pgid' && a) groups.add(Number(a));
    else if (cmd === 'ungroup' && a) groups.delete(Number(a));
    else if (cmd === 'docker' && a && b) dockers.set(a, b);
    else if (cmd === 'folder' && a?.includes('fc-local-')) folders.add(a);
  }
});
process.stdin.on('end', () => void sweep().finally(() => process.exit(0)));
process.stdin.on('error', () => void sweep().finally(() => process.exit(0)));

async function sweep(): Promise<void> {
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (runs.size) killProcessesWith(RUN_VAR, (v) => runs.has(v));
  await Promise.all([
    ...[...dockers].map(([session, socket]) => removeContainers(session, socket).catch(() => undefined)),
    ...[...containers].map(([id, socket]) => call(socket, 'DELETE', `/containers/${id}?force=1&v=1`).catch(() => '')),
  ]);
  for (const f of folders) if (![...parked.values()].some((p) => p.folder === f)) rmSync(f, { recursive: true, force: true });
  await Promise.all([...parked].map(([id, p]) => expire(id, p)));
}

// A later run that takes a parked container over says so (SIGUSR2): that one needs no waiting.
// (Handled from the start: SIGUSR2's default would end the guardian.)
process.on('SIGUSR2', () => void Promise.all([...parked].map(async ([id, p]) => (await stillParked(id, p)) || release(id))));

const timers = new Map<string, { timer: NodeJS.Timeout; done: () => void }>();

/** Stops waiting for a parked container (taken over). */
function release(id: string): void {
  const t = timers.get(id);
  parked.delete(id);
  if (!t) return;
  clearTimeout(t.timer);
  timers.delete(id);
  t.done();
}

/** Whether the container is still parked under the name this run gave it (false once another run renamed it, or it is gone). */
async function stillParked(id: string, p: Parked): Promise<boolean> {
  try {
    const info = JSON.parse(await call(p.socket, 'GET', `/containers/${id}/json`)) as { Name?: string };
    return info.Name === `/${p.name}`;
  } catch (err) {
    // The engine does not answer: keep waiting; a 404: it is gone.
    return !/^404 /.test((err as Error).message);
  }
}

/** At its time, a parked container no run has taken over goes, with its record and folder. */
async function expire(id: string, p: Parked): Promise<void> {
  const due = await new Promise<boolean>((done) => timers.set(id, { timer: setTimeout(() => done(true), Math.max(0, p.until - Date.now())), done: () => done(false) }));
  if (!due) return;
  timers.delete(id);
  // Taken over meanwhile: its record and folder are the new run's.
  if (!(await stillParked(id, p))) return;
  await call(p.socket, 'DELETE', `/containers/${id}?force=1&v=1`).catch(() => '');
  rmSync(p.record, { force: true });
  if (p.folder) rmSync(p.folder, { recursive: true, force: true });
}

/** The Engine API over its Unix socket (or plain tcp://host:port): remove this session's containers by force, then its volumes. */
async function removeContainers(session: string, socketPath: string): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`fc-local.session=${session}`] }));
  const list = (JSON.parse(await call(socketPath, 'GET', `/containers/json?all=1&filters=${filters}`)) as { Id: string }[]).filter((c) => !parked.has(c.Id));
  await Promise.all(list.map((c) => call(socketPath, 'DELETE', `/containers/${c.Id}?force=1&v=1`).catch(() => '')));
  // Then the volumes holding copies for a remote engine (free once their containers are gone).
  const volumes = (JSON.parse(await call(socketPath, 'GET', `/volumes?filters=${filters}`)) as { Volumes?: { Name: string }[] | null }).Volumes ?? [];
  await Promise.all(volumes.map((v) => call(socketPath, 'DELETE', `/volumes/${encodeURIComponent(v.Name)}?force=1`).catch(() => '')));
}

function call(socketPath: string, method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const tcp = /^tcp:\/\/([^:/]+):(\d+)$/.exec(socketPath);
    const where = tcp ? { host: tcp[1], port: Number(tcp[2]) } : { socketPath };
    const req = http.request({ ...where, method, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve(body) : reject(new Error(`${res.statusCode} ${body}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
