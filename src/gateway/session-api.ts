import express, { type Request, type Response } from 'express';
import { fc3Name, type FunctionSpec } from '../model.js';
import { SessionExistsError } from '../runtime/pool.js';
import { newSessionId, type Session } from '../runtime/sessions.js';
import { page } from './describe.js';
import { FcError } from './errors.js';
import type { GatewayDeps } from './deps.js';

// FC 3.0's Session API (2023-03-30): CreateSession, GetSession, ListSessions, UpdateSession and
// DeleteSession on the sessions of functions with HEADER_FIELD or GENERATED_COOKIE affinity, as
// FC offers it (MCP sessions are the protocol's own: FC's API does not manage them).
// PauseSession and ResumeSession save and restore an instance's memory on FC: not emulated.

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function describeSession(f: FunctionSpec, s: Session) {
  return {
    sessionId: s.id,
    functionName: fc3Name(f),
    sessionAffinityType: s.type,
    sessionTTLInSeconds: s.ttlSeconds,
    sessionIdleTimeoutInSeconds: s.idleTimeoutSeconds,
    createdTime: iso(s.createdAt),
    lastModifiedTime: iso(s.modifiedAt),
    sessionStatus: s.status,
    containerId: s.instance?.handle.id ?? '',
    qualifier: s.qualifier,
    disableSessionIdReuse: s.disableIdReuse,
  };
}

function wholeNumber(v: unknown, what: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new FcError(400, 'InvalidArgument', `${what} must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)})`);
  return v;
}

function sessionBody(req: Request): Record<string, unknown> {
  const raw = (req as Request & { rawBody?: Buffer }).rawBody;
  if (!raw?.length) return {};
  try {
    const v: unknown = JSON.parse(raw.toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* answered below */
  }
  throw new FcError(400, 'InvalidArgument', 'The request body must be a JSON object');
}

/** The routes under /2023-03-30/functions/:name/sessions; `fnOf` finds the function (and refuses qualifiers fc-local lacks). */
export function sessionRoutes(deps: GatewayDeps, r: express.Router, fnOf: (req: Request) => FunctionSpec, json: (res: Response, body: unknown, status?: number) => void): void {
  const tableOf = (req: Request) => {
    const f = fnOf(req);
    const type = f.session?.type;
    if (!type) throw new FcError(400, 'InvalidArgument', `Function '${fc3Name(f)}' has no session affinity (sessionAffinity is NONE): it has no sessions`);
    if (type === 'MCP_SSE' || type === 'MCP_STREAMABLE_HTTP') throw new FcError(400, 'InvalidArgument', `Function '${fc3Name(f)}' has ${type} affinity: FC's Session API manages HEADER_FIELD and GENERATED_COOKIE sessions only`);
    const pool = deps.invoker.pool(f);
    return { f, pool, table: pool.sessions! };
  };
  const active = (req: Request) => {
    const { f, pool, table } = tableOf(req);
    const id = String(req.params.id);
    const s = table.active(id);
    if (!s) throw new FcError(404, 'SessionNotFound', `Session '${id}' of '${fc3Name(f)}' does not exist or has expired`);
    return { f, pool, table, s };
  };

  r.post('/functions/:name/sessions', async (req, res) => {
    const { f, pool } = tableOf(req);
    const body = sessionBody(req);
    const id = body.sessionId === undefined ? newSessionId() : String(body.sessionId);
    if (!/^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/.test(id)) throw new FcError(400, 'InvalidArgument', `sessionId must be 1-64 letters, digits, _ or -, not starting with - (got ${JSON.stringify(id)})`);
    const ttlSeconds = wholeNumber(body.sessionTTLInSeconds, 'sessionTTLInSeconds', 1, 21_600);
    const idleTimeoutSeconds = wholeNumber(body.sessionIdleTimeoutInSeconds, 'sessionIdleTimeoutInSeconds', 0, 21_600);
    const q = req.query.qualifier;
    try {
      const s = await pool.createSession({
        id,
        ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
        ...(idleTimeoutSeconds !== undefined ? { idleTimeoutSeconds } : {}),
        ...(typeof body.disableSessionIdReuse === 'boolean' ? { disableIdReuse: body.disableSessionIdReuse } : {}),
        ...(typeof q === 'string' ? { qualifier: q } : {}),
      });
      json(res, describeSession(f, s));
    } catch (err) {
      if (err instanceof SessionExistsError) throw new FcError(409, 'SessionAlreadyExists', err.message);
      throw err;
    }
  });
  r.get('/functions/:name/sessions', (req, res) => {
    const { f, table } = tableOf(req);
    const status = typeof req.query.sessionStatus === 'string' && req.query.sessionStatus ? req.query.sessionStatus : undefined;
    if (status && status !== 'Active' && status !== 'Expired') throw new FcError(400, 'InvalidArgument', `sessionStatus must be Active or Expired (got ${JSON.stringify(status)})`);
    const id = typeof req.query.sessionId === 'string' && req.query.sessionId ? req.query.sessionId : undefined;
    const all = table.list().filter((s) => (!status || s.status === status) && (!id || s.id === id));
    const { items, nextToken } = page(all, (s) => s.id, req.query);
    json(res, { sessions: items.map((s) => describeSession(f, s)), ...(nextToken ? { nextToken } : {}) });
  });
  r.get('/functions/:name/sessions/:id', (req, res) => {
    const { f, s } = active(req);
    json(res, describeSession(f, s));
  });
  r.put('/functions/:name/sessions/:id', (req, res) => {
    const { f, s } = active(req);
    const body = sessionBody(req);
    const ttl = wholeNumber(body.sessionTTLInSeconds, 'sessionTTLInSeconds', 1, 21_600);
    const idle = wholeNumber(body.sessionIdleTimeoutInSeconds, 'sessionIdleTimeoutInSeconds', 0, 21_600);
    if (ttl !== undefined) s.ttlSeconds = ttl;
    if (idle !== undefined) s.idleTimeoutSeconds = idle;
    if (typeof body.disableSessionIdReuse === 'boolean') s.disableIdReuse = body.disableSessionIdReuse;
    s.modifiedAt = Date.now();
    json(res, describeSession(f, s));
  });
  r.delete('/functions/:name/sessions/:id', (req, res) => {
    const { pool } = active(req);
    pool.endSession(String(req.params.id));
    res.status(204).set({ 'x-fc-request-id': res.locals.requestId as string }).end();
  });
  r.put('/functions/:name/sessions/:id/:action', (req) => {
    const action = String(req.params.action);
    active(req);
    throw new FcError(501, 'NotImplemented', `${action === 'pause' ? 'PauseSession' : action === 'resume' ? 'ResumeSession' : action} saves or restores an instance's memory on FC: fc-local does not emulate it (the session and its instance stay as they are)`);
  });
}
