import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { InstanceStartError, type InstanceHandle, type LineListener, type LogStream } from './backend.js';
import { runtimeFamily, type FunctionSpec } from '../model.js';
import { delay } from '../util.js';

// Small pieces both backends need: line fan-out, a free loopback port, waiting for a listener.

/** Longest line kept whole; a longer one is cut there, so that one endless line cannot fill memory. */
export const MAX_LINE_CHARS = 64 * 1024;

export class LineHub {
  // Copied on change (a Set's table churned with a subscription per request): emitting
  // iterates a snapshot, so a listener may unsubscribe while it runs.
  private listeners: LineListener[] = [];

  attach(stream: Readable, name: LogStream): void {
    let partial = '';
    let cut = false;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        const piece = chunk.slice(start, nl);
        start = nl + 1;
        if (cut) {
          cut = false;
          partial = '';
          continue;
        }
        const line = partial + piece;
        partial = '';
        this.emit(line.endsWith('\r') ? line.slice(0, -1) : line, name);
      }
      if (cut) return;
      partial += chunk.slice(start);
      if (partial.length > MAX_LINE_CHARS) {
        this.emit(`${partial.slice(0, MAX_LINE_CHARS)} [fc-local: line cut at ${MAX_LINE_CHARS} characters]`, name);
        partial = '';
        cut = true;
      }
    });
    stream.on('end', () => {
      if (partial && !cut) this.emit(partial, name);
      partial = '';
    });
  }

  emit(line: string, stream: LogStream): void {
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]!(line, stream);
  }

  on(listener: LineListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
}

// Ports handed to others to bind later (an agent's, a debugger's) come from below the kernel's
// ephemeral range: a server listening on port 0 anywhere on the machine (fc-local's own OSS,
// another run's gateway) is never given one of them between the probe and the bind, as it can be
// a port that a probe on port 0 has just released.
const FIRST_HANDED_PORT = 20_000;
/** Ports this process handed out lately, not handed again while their owners may still be binding. */
const handedOut = new Map<number, number>();
const HANDED_OUT_MS = 60_000;

/** Where the kernel's ephemeral ports begin (Linux's setting; 32768 elsewhere is below theirs). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // Not Linux: macOS's and Windows's ephemeral ports begin at 49152.
  }
  return 32_768;
}

function bindsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The kernel's choice: the fallback when no range lies below its ephemeral ports. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A loopback port free now, for another process to bind soon. */
export async function freePort(): Promise<number> {
  const now = Date.now();
  for (const [port, at] of handedOut) if (now - at > HANDED_OUT_MS) handedOut.delete(port);
  const high = ephemeralLow();
  if (high - FIRST_HANDED_PORT >= 1000) {
    for (let tries = 0; tries < 50; tries++) {
      const port = FIRST_HANDED_PORT + Math.floor(Math.random() * (high - FIRST_HANDED_PORT));
      if (handedOut.has(port)) continue;
      // Held before the probe: a call running meanwhile picks another.
      handedOut.set(port, now);
      if (await bindsFree(port)) return port;
      handedOut.delete(port);
    }
  }
  return kernelPort();
}

/** Any HTTP answer means the instance serves; a refused or dropped connection means not yet. */
export function answers(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Resolves when something answers HTTP on host:port (a TCP connect is not enough: Docker's port
 * proxy accepts before the container listens); rejects with `gone()`'s reason as soon as the
 * instance has ended, or after `timeoutMs`.
 */
export async function waitForHttp(
  ports: number[],
  host: string,
  timeoutMs: number,
  gone: () => string | undefined,
  accept: (port: number) => boolean = () => true,
  /**
   * Resolves true when the instance says it listens on the first port (our agents on the
   * process backend): no probe needed, and the agent's first request is the invocation.
   */
  hint?: Promise<boolean>,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let hinted = false;
  let listening = false;
  void hint?.then((said) => {
    hinted = true;
    listening = said;
  });
  // Probes are cheap (a refused connection): at most 10 ms apart, so that a start is seen
  // within 10 ms of its end, not up to 50 as with a longer back-off.
  for (let wait = 2; ; wait = Math.min(wait * 2, 10)) {
    const reason = gone();
    if (reason) throw new Error(reason);
    if (listening) return ports[0]!;
    const answered = await Promise.all(ports.map(async (p) => (await answers(p, host)) && accept(p)));
    const i = answered.indexOf(true);
    if (i >= 0) return ports[i]!;
    if (Date.now() > deadline) throw new Error(`did not answer HTTP on ${host}:${ports[0]} within ${Math.round(timeoutMs / 1000)}s`);
    // The wait for the instance is what keeps the process alive.
    if (hint && !hinted) await Promise.race([delay(wait, true), hint]);
    else await delay(wait, true);
  }
}

export interface Booting {
  instance: Pick<InstanceHandle, 'onLine' | 'stop'> & { readonly port: number; endReason(): string | undefined };
  /** Work before waiting, e.g. starting the container (its port is known after). */
  begin?: () => Promise<void>;
  /** Resolves true when the instance says it is listening (see waitForHttp). */
  ready?: Promise<boolean>;
  /** Another port the instance may listen on instead (a custom runtime's fixed caPort)... */
  orPort?: number;
  /** ...which counts only when the listener there is this instance (not another program). */
  ownsOrPort?: () => boolean;
  timeoutMs: number;
  /** Names what failed, e.g. "the nodejs18 runtime for svc/fn". */
  what: string;
  /** Sees every line printed while booting (e.g. a debugger saying it listens). */
  onLine?: LineListener;
  /** Told every `slowEveryMs` (10 s) while the instance has not answered: a long start is never a silent wait. */
  onSlow?: (waitedSeconds: number) => void;
  slowEveryMs?: number;
}

/**
 * Waits until a new instance answers HTTP. On failure it stops the instance and throws an
 * InstanceStartError carrying what the instance printed while booting, to explain why.
 */
export async function awaitReady(b: Booting): Promise<number> {
  const boot: string[] = [];
  const off = b.instance.onLine((line, stream) => {
    if (boot.length < 50) boot.push(line);
    b.onLine?.(line, stream);
  });
  const began = Date.now();
  const slow = b.onSlow && setInterval(() => b.onSlow!(Math.round((Date.now() - began) / 1000)), b.slowEveryMs ?? 10_000);
  slow?.unref();
  try {
    await b.begin?.();
    return await waitForHttp(
      [b.instance.port, ...(b.orPort ? [b.orPort] : [])],
      '127.0.0.1',
      b.timeoutMs,
      () => b.instance.endReason(),
      (p) => p !== b.orPort || (b.ownsOrPort?.() ?? true),
      b.ready,
    );
  } catch (err) {
    await b.instance.stop();
    throw new InstanceStartError(`${b.what} failed to start: ${(err as Error).message}`, boot.join('\n'));
  } finally {
    off();
    clearInterval(slow);
  }
}

/** Booting's onSlow for a backend's console: what is still starting, for how long, and its limit. */
export function slowStartNote(what: string, limitMs: number, log: ((line: string) => void) | undefined): ((waited: number) => void) | undefined {
  if (!log || !Number.isFinite(limitMs)) return undefined;
  return (waited) => log(`${what} has not answered HTTP after ${waited} s; still waiting (it has ${Math.round(limitMs / 1000)} s in all; --start-timeout sets another limit)`);
}

/** FC's limit for a custom runtime's or custom container's server to listen (else FunctionNotStarted). */
export const CUSTOM_START_LIMIT_MS = 120_000;

/**
 * How long a new instance may take to answer: our agents get a fixed allowance; a custom
 * bootstrap or container gets FC's 120 s, whatever the function's timeout (FC does not count the
 * start in it). `chosen` (--start-timeout) overrides both.
 */
export function startLimitMs(fn: FunctionSpec, agentLimitMs: number, chosen?: number): number {
  if (chosen !== undefined) return chosen;
  return runtimeFamily(fn.runtime) === 'custom' ? CUSTOM_START_LIMIT_MS : agentLimitMs;
}
