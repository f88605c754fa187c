import net from 'node:net';
import { readFileSync } from 'node:fs';
import type http from 'node:http';

// fc-local's own channel to its agents: one Unix-socket connection per instance, length-prefixed
// frames instead of HTTP/1.1 with a dozen x-fc headers (half the CPU per request in bench/).
// Custom bootstraps keep FC's HTTP protocol; our agents speak both and use this one when the
// backend gives them a socket (FC_LOCAL_CHANNEL). docs/agent-channel.md describes the frames.
//
//   frame := u32 length (whole frame) | u32 id | u32 meta length | u8 kind | meta (JSON) | body
//
// Before any user code runs, the agent records the highest request id it has read: the receipt
// that decides whether a failed request may be sent again. It writes it to `<socket>.received`
// (4 bytes, read here only when a connection ends with requests unanswered), which wakes nobody;
// an agent that cannot sends a `received` frame instead.

export const FRAME_HEADER = 13;
export const KIND = { invoke: 1, initialize: 2, http: 3, received: 16, answer: 17 } as const;
export type RequestKind = 'invoke' | 'initialize' | 'http';

/** Meta of a request: the protocol's x-fc headers (and, for HTTP, the request's own) plus method and path. */
export interface RequestMeta {
  h: Record<string, string | string[]>;
  m?: string;
  u?: string;
}

/** What an instance answered: the protocol's status, headers and body. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body went to the caller's stream as it came (HTTP functions that stream). */
  streamed?: boolean;
  /** ...and the caller's client went away before its end. */
  clientClosed?: boolean;
}

export class CallError extends Error {
  constructor(
    message: string,
    /** `undelivered`: the request never reached a live instance, so sending again is safe. */
    readonly kind: 'timeout' | 'crash' | 'tooLarge' | 'undelivered',
  ) {
    super(message);
  }
  /** The answer had started to stream to the client when it failed. */
  streamed?: boolean;
}

/** The highest id an agent recorded as received in its receipt file; 0 when none. */
function receiptIn(file: string): number {
  try {
    const b = readFileSync(file);
    return b.length >= 4 ? b.readUInt32LE(0) : 0;
  } catch {
    return 0;
  }
}

/** A meta larger than this is not ours: the connection is dropped. */
const MAX_META = 1024 * 1024;

export function encodeFrame(id: number, kind: number, meta: unknown, body: Buffer): Buffer[] {
  const m = Buffer.from(JSON.stringify(meta));
  const small = body.length <= 64 * 1024;
  // One write for a small frame; a large body goes out as it is, not copied.
  const head = Buffer.allocUnsafe(FRAME_HEADER + m.length + (small ? body.length : 0));
  head.writeUInt32LE(FRAME_HEADER + m.length + body.length, 0);
  head.writeUInt32LE(id, 4);
  head.writeUInt32LE(m.length, 8);
  head.writeUInt8(kind, 12);
  m.copy(head, FRAME_HEADER);
  if (small) {
    body.copy(head, FRAME_HEADER + m.length);
    return [head];
  }
  return [head, body];
}

export interface Frame {
  id: number;
  kind: number;
  meta: string;
  body: Buffer;
}

/**
 * Splits a byte stream into frames. A frame whose body is over `maxBody` is not kept: its bytes
 * are skipped as they come and `oversized` names it, so that one answer cannot fill memory.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes needed before the next frame can be read (its header, then the whole frame). */
  private need = FRAME_HEADER;
  private skip = 0;

  constructor(
    private readonly maxBody: number,
    private readonly onFrame: (f: Frame) => void,
    private readonly oversized: (id: number) => void,
  ) {}

  /** Reads what `chunk` completes; throws on bytes that are not frames. */
  push(chunk: Buffer): void {
    if (this.skip) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    if (this.size + chunk.length < this.need) {
      this.chunks.push(chunk);
      this.size += chunk.length;
      return;
    }
    // Joined only once enough is in: a large frame is copied once, not once per chunk.
    let buf = this.size ? Buffer.concat([...this.chunks, chunk]) : chunk;
    this.chunks = [];
    this.size = 0;
    let at = 0;
    while (buf.length - at >= FRAME_HEADER) {
      const length = buf.readUInt32LE(at);
      const metaLength = buf.readUInt32LE(at + 8);
      if (metaLength > MAX_META || length < FRAME_HEADER + metaLength) throw new Error('not an fc-local frame');
      const id = buf.readUInt32LE(at + 4);
      if (length - FRAME_HEADER - metaLength > this.maxBody) {
        this.oversized(id);
        const have = buf.length - at;
        if (have < length) {
          this.skip = length - have;
          at = buf.length;
          break;
        }
        at += length;
        continue;
      }
      if (buf.length - at < length) break;
      const metaEnd = at + FRAME_HEADER + metaLength;
      this.onFrame({ id, kind: buf[at + 12]!, meta: buf.toString('utf8', at + FRAME_HEADER, metaEnd), body: buf.subarray(metaEnd, at + length) });
      at += length;
    }
    if (at < buf.length) {
      buf = buf.subarray(at);
      this.chunks.push(buf);
      this.size = buf.length;
      // A whole header left means a frame within the limits (an oversized one is skipped above).
      this.need = buf.length >= FRAME_HEADER ? buf.readUInt32LE(0) : FRAME_HEADER;
    } else {
      this.need = FRAME_HEADER;
    }
  }
}

interface Pending {
  resolve(r: RawResponse): void;
  reject(e: CallError): void;
  timer?: NodeJS.Timeout;
}

class PendingSet {
  private id = 0;
  private one?: Pending;
  private more?: Map<number, Pending>;

  set(id: number, p: Pending): void {
    if (!this.one) {
      this.id = id;
      this.one = p;
    } else {
      (this.more ??= new Map()).set(id, p);
    }
  }

  /** Removes and returns the request with this id. */
  take(id: number): Pending | undefined {
    if (this.one && this.id === id) {
      const p = this.one;
      this.one = undefined;
      return p;
    }
    const p = this.more?.get(id);
    if (p) this.more!.delete(id);
    return p;
  }

  /** Removes and returns them all, by id. */
  drain(): Array<[number, Pending]> {
    const all: Array<[number, Pending]> = this.one ? [[this.id, this.one]] : [];
    if (this.more) all.push(...this.more);
    this.one = undefined;
    this.more = undefined;
    return all;
  }
}

/**
 * The gateway's end of one instance's channel: requests go out as frames on one connection
 * (opened on first use, again after the agent restarted), answers are matched by id.
 */
export class AgentChannel {
  private socket?: net.Socket;
  private connected = false;
  private nextId = 1;
  private received = 0;
  /**
   * Requests awaiting their answer. One at a time is the usual case (FC's one request per
   * instance): it takes a slot of its own, as a Map's table churned with every request.
   */
  private readonly pending = new PendingSet();
  /** Frames written before the connection was up. */
  private queued: Buffer[] = [];

  constructor(
    readonly path: string,
    /** The largest answer body kept (FC's response limit); a larger one fails its request. */
    private readonly maxBody: number,
  ) {}

  /**
   * Sends one request. Past `timeoutMs` it fails as a timeout and its answer, if one comes, is
   * ignored (the caller discards the instance).
   */
  request(kind: RequestKind, meta: RequestMeta, body: Buffer, timeoutMs: number): Promise<RawResponse> {
    // Ids only grow on a connection: the receipt covers every id up to the one it names.
    const id = this.nextId++;
    // After 2^32 requests ids start over; a receipt then errs on the side of "may have run".
    if (this.nextId > 0xffff_ffff) this.nextId = 1;
    const answer = new Promise<RawResponse>((resolve, reject) => {
      const p: Pending = { resolve, reject };
      // setTimeout cannot wait forever (it fires at once past 2^31 ms): no limit, no timer.
      if (Number.isFinite(timeoutMs)) p.timer = setTimeout(() => this.settle(id, new CallError('timeout', 'timeout')), timeoutMs);
      this.pending.set(id, p);
    });
    const frame = encodeFrame(id, KIND[kind], meta, body);
    const socket = this.socket ?? this.open();
    if (this.connected) for (const b of frame) socket.write(b);
    else this.queued.push(...frame);
    return answer;
  }

  private open(): net.Socket {
    const socket = net.connect(this.path);
    this.socket = socket;
    const reader = new FrameReader(this.maxBody, (f) => this.onFrame(f), (id) => this.settle(id, new CallError('too large', 'tooLarge')));
    socket.setNoDelay?.(true);
    socket.on('connect', () => {
      this.connected = true;
      for (const b of this.queued) socket.write(b);
      this.queued = [];
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined); // 'close' follows and settles what is pending
    socket.on('close', () => this.closed(socket));
    return socket;
  }

  private onFrame(f: Frame): void {
    if (f.kind === KIND.received) {
      this.received = f.id;
      return;
    }
    const p = this.pending.take(f.id);
    if (!p) return; // timed out
    clearTimeout(p.timer);
    try {
      const meta = JSON.parse(f.meta) as { s: number; h: http.IncomingHttpHeaders };
      p.resolve({ status: meta.s, headers: meta.h, body: f.body });
    } catch {
      p.reject(new CallError('unreadable answer', 'crash'));
    }
  }

  private settle(id: number, e: CallError): void {
    const p = this.pending.take(id);
    if (!p) return;
    clearTimeout(p.timer);
    p.reject(e);
  }

  /**
   * The connection ended (the agent exited or restarted): a request it had received may have
   * run, one it had not never reached the function.
   */
  private closed(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.connected = false;
    this.queued = [];
    const failed = this.pending.drain();
    // The receipt file is read only when there is something to decide.
    const received = failed.length ? Math.max(this.received, receiptIn(`${this.path}.received`)) : 0;
    this.received = 0;
    for (const [id, p] of failed) {
      clearTimeout(p.timer);
      p.reject(id <= received && received !== 0 ? new CallError('the instance ended', 'crash') : new CallError('not received', 'undelivered'));
    }
  }

  /** Whether an agent answers on the socket (a connection is accepted). */
  static reachable(path: string, timeoutMs = 1000): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(path);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        s.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      s.on('connect', () => done(true));
      s.on('error', () => done(false));
    });
  }

  close(): void {
    this.socket?.destroy();
  }
}
