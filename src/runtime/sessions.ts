import { randomUUID } from 'node:crypto';
import type { SessionAffinity, SessionAffinityType } from '../model.js';
import type { Instance } from './instance.js';

// FC 3.0's sessions of one function: which instance each is bound to, and when it ends. A
// session ends after its TTL, after its idle timeout with no request in flight, or when it is
// deleted (the Session API, an MCP client's DELETE, an MCP SSE stream closing). Expiry is
// checked when a session is used or listed, so a test needs no sweep to see it; the pool's
// reaper sweeps too, so that an instance whose sessions all ended can be reaped.

export type SessionStatus = 'Active' | 'Expired';

export interface Session {
  readonly id: string;
  readonly type: SessionAffinityType;
  readonly createdAt: number;
  lastUsedAt: number;
  modifiedAt: number;
  ttlSeconds: number;
  idleTimeoutSeconds: number;
  disableIdReuse: boolean;
  status: SessionStatus;
  qualifier: string;
  /** The instance it is bound to; none until its first request has one (or after that instance ended). */
  instance?: Instance;
  /** Requests (or an MCP SSE stream) of this session in flight: it does not idle out meanwhile. */
  inFlight: number;
}

/** What a request asks of the pool about sessions. */
export type SessionClaim =
  /** A request naming a session: to its instance; `create`: an unknown ID starts a session of that ID (HEADER_FIELD, cookie). */
  | { id: string; create: boolean }
  /** A request that may start a session (MCP initialize, an SSE stream): an instance with room for one, reserved until bound or released. */
  | { fresh: true };

/** A request named a session that ended, whose ID may not be reused (disableSessionIdReuse). */
export class SessionGoneError extends Error {
  constructor(readonly sessionId: string) {
    super(`Session ${sessionId} has expired and its ID may not be reused (disableSessionIdReuse)`);
  }
}

/** Ended sessions kept for ListSessions and for disableSessionIdReuse, at most. */
const EXPIRED_KEPT = 1000;

/** FC's session IDs: 32 hex digits. */
export function newSessionId(): string {
  return randomUUID().replace(/-/g, '');
}

export class SessionTable {
  private readonly byId = new Map<string, Session>();
  private readonly expiredOrder: string[] = [];

  constructor(
    private config: SessionAffinity,
    /** The clock sessions age on (a test's manual clock moves them). */
    readonly now: () => number = Date.now,
  ) {}

  /** New settings (a saved template): sessions keep the TTLs they began with, as the Session API's updates would. */
  configure(config: SessionAffinity): void {
    this.config = config;
  }

  get affinity(): SessionAffinity {
    return this.config;
  }

  /** The session of this ID if it is active now (expiring it first if its time is up). */
  active(id: string, now = this.now()): Session | undefined {
    const s = this.byId.get(id);
    if (!s || s.status !== 'Active') return undefined;
    if (this.due(s, now)) {
      this.expire(s);
      return undefined;
    }
    return s;
  }

  /** Whether this ID names an ended session that may not start again. */
  refused(id: string): boolean {
    const s = this.byId.get(id);
    return s !== undefined && s.status === 'Expired' && s.disableIdReuse;
  }

  create(id: string, opts: { ttlSeconds?: number; idleTimeoutSeconds?: number; disableIdReuse?: boolean; qualifier?: string } = {}): Session {
    const now = this.now();
    const s: Session = {
      id,
      type: this.config.type,
      createdAt: now,
      lastUsedAt: now,
      modifiedAt: now,
      ttlSeconds: opts.ttlSeconds ?? this.config.ttlSeconds,
      idleTimeoutSeconds: opts.idleTimeoutSeconds ?? this.config.idleTimeoutSeconds,
      disableIdReuse: opts.disableIdReuse ?? this.config.disableIdReuse,
      status: 'Active',
      qualifier: opts.qualifier ?? 'LATEST',
      inFlight: 0,
    };
    const old = this.byId.get(id);
    if (old) this.forget(old);
    this.byId.set(id, s);
    return s;
  }

  bind(s: Session, inst: Instance): void {
    if (s.instance === inst) return;
    s.instance?.sessions.delete(s.id);
    s.instance = inst;
    inst.sessions.add(s.id);
  }

  /** The instance ended: its sessions stay, unbound; their next request finds them another (FC no longer guarantees affinity then). */
  unbindAll(inst: Instance): void {
    for (const id of inst.sessions) {
      const s = this.byId.get(id);
      if (s?.instance === inst) s.instance = undefined;
    }
    inst.sessions.clear();
  }

  /** Ends a session: Expired, unbound. Returns the instance it was bound to. */
  expire(s: Session): Instance | undefined {
    if (s.status === 'Expired') return undefined;
    s.status = 'Expired';
    s.modifiedAt = this.now();
    const inst = s.instance;
    inst?.sessions.delete(s.id);
    s.instance = undefined;
    this.expiredOrder.push(s.id);
    while (this.expiredOrder.length > EXPIRED_KEPT) {
      const old = this.byId.get(this.expiredOrder.shift()!);
      if (old?.status === 'Expired') this.byId.delete(old.id);
    }
    return inst;
  }

  /** Deletes a session outright (DeleteSession, an MCP DELETE): its ID starts a new session next time. */
  remove(id: string): Instance | undefined {
    const s = this.byId.get(id);
    if (!s) return undefined;
    const inst = s.status === 'Active' ? s.instance : undefined;
    this.forget(s);
    return inst;
  }

  /** Ends the sessions whose time is up; returns the instances they were bound to. */
  sweep(now = this.now()): Instance[] {
    const freed: Instance[] = [];
    for (const s of this.byId.values()) {
      if (s.status === 'Active' && this.due(s, now)) {
        const inst = this.expire(s);
        if (inst) freed.push(inst);
      }
    }
    return freed;
  }

  list(now = this.now()): Session[] {
    this.sweep(now);
    return [...this.byId.values()];
  }

  get(id: string): Session | undefined {
    return this.byId.get(id);
  }

  /** Sessions active now. */
  get size(): number {
    let n = 0;
    for (const s of this.byId.values()) if (s.status === 'Active') n++;
    return n;
  }

  private due(s: Session, now: number): boolean {
    if (now - s.createdAt >= s.ttlSeconds * 1000) return true;
    return s.idleTimeoutSeconds > 0 && s.inFlight === 0 && now - s.lastUsedAt >= s.idleTimeoutSeconds * 1000;
  }

  private forget(s: Session): void {
    if (s.instance?.sessions.delete(s.id)) s.instance = undefined;
    this.byId.delete(s.id);
    const i = this.expiredOrder.indexOf(s.id);
    if (i >= 0) this.expiredOrder.splice(i, 1);
  }
}
