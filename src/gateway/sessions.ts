import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { SESSION_COOKIE, type FunctionSpec } from '../model.js';
import type { Invoker, SessionRequest } from '../runtime/invoker.js';
import type { Lease } from '../runtime/pool.js';
import { newSessionId } from '../runtime/sessions.js';
import { FcError } from './errors.js';

// FC 3.0's session affinity at the door: which session a request belongs to, read as FC reads
// it for each affinity type, and what the answer says about sessions.
//   HEADER_FIELD         the configured header; none: FC makes an ID and answers it in that header
//   GENERATED_COOKIE     cookie x-fc-cookie-session-id; none: FC makes one (Set-Cookie, Max-Age = TTL)
//   MCP_STREAMABLE_HTTP  Mcp-Session-Id: the answer to `initialize` names it; DELETE ends it
//   MCP_SSE              the SSE stream's `endpoint` event names it (?sessionId=); the stream's end ends it

/** FC's rule for a client's session ID (HEADER_FIELD, cookie). */
const CLIENT_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
/** How much of an SSE stream is searched for its `endpoint` event. */
const ENDPOINT_SCAN_BYTES = 64 * 1024;

export interface SessionHandling {
  request: SessionRequest;
  /** A streamed answer's head, as it goes out. */
  head?(headers: IncomingMessage['headers']): void;
  /** Wraps where a streamed answer goes (an MCP SSE stream is read for its session). */
  tap?(dest: ServerResponse): Transform;
  /** The request is over (an MCP SSE stream: its session ends). */
  done?(): void;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function clientId(id: string, where: string): string {
  if (!CLIENT_ID_RE.test(id)) throw new FcError(400, 'InvalidArgument', `The session ID in ${where} must be 1-64 letters, digits, _ or -, not starting with - (got ${JSON.stringify(id.slice(0, 80))})`);
  return id;
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** The session ID an MCP SSE `endpoint` event names, from its data (a URL, absolute or not). */
export function endpointSessionId(sse: string): string | undefined {
  const m = /(?:^|\n)event:\s*endpoint\r?\ndata:\s*([^\r\n]+)\r?\n/.exec(sse);
  if (!m) return undefined;
  try {
    const u = new URL(m[1]!.trim(), 'http://function.local');
    return u.searchParams.get('sessionId') ?? u.searchParams.get('session_id') ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * How this request takes part in the function's sessions; undefined for a function without
 * session affinity, or a request that names no session and can begin none. `path` is the path
 * within the function (its function URL's path), with the query.
 */
export function sessionHandling(invoker: Invoker, f: FunctionSpec, req: IncomingMessage, res: ServerResponse, path: string): SessionHandling | undefined {
  const cfg = f.session;
  if (!cfg) return undefined;
  switch (cfg.type) {
    case 'HEADER_FIELD': {
      const name = cfg.headerName!;
      const given = one(req.headers[name]);
      const id = given !== undefined && given !== '' ? clientId(given, `header ${name}`) : newSessionId();
      // The function sees the ID the session has, and the client learns a new one from the answer.
      req.headers[name] = id;
      if (given === undefined || given === '') res.setHeader(name, id);
      return { request: { claim: { id, create: true } } };
    }
    case 'GENERATED_COOKIE': {
      const given = cookieValue(one(req.headers.cookie), SESSION_COOKIE);
      if (given) return { request: { claim: { id: clientId(given, `cookie ${SESSION_COOKIE}`), create: true } } };
      const id = newSessionId();
      res.appendHeader('set-cookie', `${SESSION_COOKIE}=${id}; Max-Age=${cfg.ttlSeconds}`);
      return { request: { claim: { id, create: true } } };
    }
    case 'MCP_STREAMABLE_HTTP': {
      const given = one(req.headers['mcp-session-id']);
      const pool = invoker.pool(f);
      if (given) {
        // DELETE ends the session once the server has answered; it frees the instance's room.
        const ending = req.method === 'DELETE';
        return {
          request: { claim: { id: given, create: false } },
          ...(ending ? { done: () => void pool.endSession(given) } : {}),
        };
      }
      // An `initialize` (or any request without a session): the answer's Mcp-Session-Id binds it,
      // as soon as the answer's head arrives (the client's next request may follow at once).
      let lease: Lease | undefined;
      const bind = (headers: IncomingMessage['headers']) => {
        const sid = one(headers['mcp-session-id']);
        if (sid && lease && lease.session !== sid) lease.bindSession(sid);
      };
      return { request: { claim: { fresh: true }, leased: (l) => (lease = l), answered: (_l, _status, headers) => bind(headers) }, head: bind };
    }
    case 'MCP_SSE': {
      const url = new URL(path, 'http://function.local');
      const named = url.searchParams.get('sessionId') ?? url.searchParams.get('session_id');
      if (named) return { request: { claim: { id: named, create: false } } };
      if (req.method !== 'GET' || url.pathname !== cfg.ssePath) return undefined;
      let lease: Lease | undefined;
      let sid: string | undefined;
      const pool = invoker.pool(f);
      return {
        request: { claim: { fresh: true }, leased: (l) => (lease = l) },
        tap: (dest) => {
          let seen = '';
          const t = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              if (sid === undefined && seen.length < ENDPOINT_SCAN_BYTES) {
                seen += chunk.toString('utf8');
                const found = endpointSessionId(seen);
                if (found) {
                  sid = found;
                  lease?.bindSession(found);
                }
              }
              cb(null, chunk);
            },
          });
          t.pipe(dest);
          dest.on('close', () => t.destroy());
          return t;
        },
        done: () => {
          if (sid) pool.endSession(sid);
        },
      };
    }
  }
}
