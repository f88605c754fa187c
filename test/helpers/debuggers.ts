import net from 'node:net';
import { WebSocket } from 'ws';
import { delay } from '../../src/util.js';
import { scaled } from './time-scale.js';

// Real debugger clients for the tests: the Chrome DevTools Protocol (Node's inspector) over a
// WebSocket, and the Debug Adapter Protocol (debugpy) over TCP. Each keeps every event it got,
// so that a test can wait for one that already arrived.

type Message = Record<string, unknown> & { id?: number; seq?: number; method?: string; event?: string; params?: unknown; body?: unknown };

class EventLog<T> {
  private readonly seen: T[] = [];
  private readonly waiters = new Set<() => void>();

  push(e: T): void {
    this.seen.push(e);
    this.waiters.forEach((w) => w());
  }

  /** The first event matching `match` not taken yet (taken from the log). */
  take(match: (e: T) => boolean, ms = scaled(60_000), what = 'an event'): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.seen.findIndex(match);
        if (i < 0) return;
        const [e] = this.seen.splice(i, 1);
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(e!);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${what} within ${ms} ms`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }
}

export interface CdpPaused {
  reason: string;
  hitBreakpoints?: string[];
  callFrames: { callFrameId: string; location: { scriptId: string; lineNumber: number } }[];
}

/** A Chrome DevTools Protocol client for Node's inspector. */
export class CdpClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly events = new EventLog<{ method: string; params: unknown }>();
  /** Script ids to URLs, from Debugger.scriptParsed (a call frame names its script by id). */
  readonly scripts = new Map<string, string>();
  /** Script ids to their source map URLs (a data: URL for inline maps), where a script has one. */
  readonly sourceMaps = new Map<string, string>();

  private constructor(
    private readonly ws: WebSocket,
    readonly targetId: string,
  ) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Message & { result?: unknown; error?: { message: string } };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(msg.error.message));
        else p?.resolve(msg.result);
      } else if (msg.method === 'Debugger.scriptParsed') {
        const p = msg.params as { scriptId: string; url: string; sourceMapURL?: string };
        this.scripts.set(p.scriptId, p.url);
        if (p.sourceMapURL) this.sourceMaps.set(p.scriptId, p.sourceMapURL);
      } else if (msg.method) this.events.push({ method: msg.method, params: msg.params });
    });
  }

  /**
   * Finds the inspector's target over HTTP (/json/list) and opens its WebSocket, at once: fc-local
   * announces the port only once the inspector listens. `not` skips a target (the previous
   * runtime's, on its way out after a reload), which may take a moment to go.
   */
  static async connect(port: number, not?: string): Promise<CdpClient> {
    const deadline = Date.now() + (not ? scaled(60_000) : 0);
    for (;;) {
      const targets = await fetch(`http://127.0.0.1:${port}/json/list`)
        .then((r) => r.json() as Promise<{ id: string; webSocketDebuggerUrl: string }[]>)
        .catch(() => []);
      const target = targets.find((t) => t.id !== not);
      if (target) {
        const ws = new WebSocket(target.webSocketDebuggerUrl);
        const open = await new Promise<boolean>((resolve) => {
          ws.once('open', () => resolve(true));
          ws.once('error', () => resolve(false));
        });
        if (open) return new CdpClient(ws, target.id);
      }
      if (Date.now() > deadline) throw new Error(`no inspector target on 127.0.0.1:${port}`);
      await delay(100);
    }
  }

  send<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }

  /** Resumes every pause that is not at a breakpoint (the inspector's stop at the agent's first line) until one is. */
  async pausedAtBreakpoint(ms = scaled(60_000)): Promise<CdpPaused> {
    for (;;) {
      const { params } = await this.events.take((e) => e.method === 'Debugger.paused', ms, 'Debugger.paused');
      const paused = params as CdpPaused;
      if (paused.hitBreakpoints?.length) return paused;
      await this.send('Debugger.resume');
    }
  }

  close(): void {
    this.ws.close();
  }
}

/** A Debug Adapter Protocol client (what VS Code speaks to debugpy), over TCP. */
export class DapClient {
  private seq = 1;
  private buffer = Buffer.alloc(0);
  private readonly responses = new EventLog<Message>();
  readonly events = new EventLog<Message>();

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const headerEnd = this.buffer.indexOf('\r\n\r\n');
        if (headerEnd < 0) return;
        const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString())?.[1]);
        if (this.buffer.length < headerEnd + 4 + length) return;
        const msg = JSON.parse(this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString()) as Message & { type: string };
        this.buffer = this.buffer.subarray(headerEnd + 4 + length);
        if (msg.type === 'response') this.responses.push(msg);
        else if (msg.type === 'event') this.events.push(msg);
      }
    });
  }

  /** Connects once: fc-local announces the port only once debugpy listens (a refusal fails the test). */
  static async connect(port: number): Promise<DapClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', (err) => reject(new Error(`debugpy does not accept on 127.0.0.1:${port}: ${err.message}`)));
    });
    return new DapClient(socket);
  }

  /** Sends a request; the promise resolves with the response's body (rejects if it failed). */
  request<T = Record<string, unknown>>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    const seq = this.seq++;
    const json = JSON.stringify({ seq, type: 'request', command, arguments: args });
    this.socket.write(`Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
    return this.responses.take((r) => r.request_seq === seq, scaled(60_000), `a response to ${command}`).then((r) => {
      if (!r.success) throw new Error(`${command} failed: ${String(r.message)}`);
      return (r.body ?? {}) as T;
    });
  }

  event(name: string, ms = scaled(60_000)): Promise<Message> {
    return this.events.take((e) => e.event === name, ms, `a ${name} event`);
  }

  close(): void {
    this.socket.destroy();
  }
}
