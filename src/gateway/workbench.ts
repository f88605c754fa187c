import getRawBody from 'raw-body';
import express, { type NextFunction, type Request, type Response } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util.js';
import type { OssBrowser } from '../services/oss/browser.js';
import { OssError } from '../services/oss/errors.js';
import { FcError } from './errors.js';
import { WORKBENCH_OPENAPI } from './workbench-openapi.js';
import { agentMcp } from './agent-mcp.js';

// The workbench's HTTP side under /_fc-local: the page and its assets (bundled at build time into
// dist/web), the JSON API it uses, a server-sent event stream, and Prometheus metrics. What it
// shows comes from the emulator through WorkbenchSource.

export interface WorkbenchSource {
  /** Required from clients when set (the bind is wider than loopback). */
  token?: string;
  functions(): unknown[];
  invocations(filter: { function?: string; status?: string; q?: string; limit?: number }): unknown[];
  invocation(requestId: string): unknown;
  /** The tree of invocations an invocation belongs to (its causes and what it caused). */
  chain(requestId: string): unknown;
  replay(requestId: string): Promise<unknown>;
  invoke(body: unknown): Promise<unknown>;
  fire(type: string, body: unknown): Promise<unknown>;
  eventTemplates(): Record<string, unknown>;
  logs(): unknown[];
  series(fn?: string): unknown[];
  metricsText(): Promise<{ contentType: string; text: string }>;
  /** SSE: each event as `{type, data}`; returns the unsubscribe. */
  subscribe(send: (type: string, data: unknown) => void): () => void;
  /** The project the page is of: its folder's name and template file (the page's title). */
  project(): { name: string; template: string };
  /** The local OSS: endpoint, region, access key id (never the secret) and buckets. */
  oss(): unknown;
  /** The OSS view: a bucket's folders and objects, uploads, downloads and deletes. */
  ossBrowser: OssBrowser;
  /** Recent OSS writes and deletes with the invocations each started, newest first. */
  ossActivity(): unknown[];
  /** Finished invocations for tests in any language (GET /api/invocations/next). */
  feed: InvocationWaits;
  /** The emulator's state as one archive: GET (save), PUT (load), DELETE (reset) /api/state. */
  state: { save(): Promise<Buffer>; load(archive: Buffer): Promise<void>; reset(): Promise<void> };
  /** fc-local's clock; a manual one moves by POST /api/clock/advance and /api/clock/set. */
  clock: { manual: boolean; now(): number; advance(by: string | number): Promise<void>; set(to: string | number): Promise<void> };
}

/** What /_fc-local/api/invocations/next and /api/idle wait on. */
export interface InvocationWaits {
  /** The cursor now (feeding starts with the first call, if it had not). */
  cursor(): number;
  /** The first invocation finished after `after` matching the filter, with the cursor past it; rejects at the timeout. */
  next(after: number, filter: { function?: string; source?: string[]; status?: string; timeout: number }): Promise<{ cursor: number; invocation: unknown }>;
  /** Resolves true once nothing runs or is queued, false at the timeout. */
  idle(timeoutMs: number): Promise<boolean>;
}

/** Where the bundled page is: dist/web beside dist/gateway. */
const WEB_DIR = path.join(packageRoot(), 'dist', 'web');
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.map': 'application/json', '.svg': 'image/svg+xml' };

/** A token check for the workbench and the injection API: query, header or cookie. */
export function tokenGuard(token: string | undefined): express.RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!token) return next();
    const given = (req.query.token as string | undefined) ?? req.get('x-fc-local-token') ?? /(?:^|;\s*)fc_local_token=([^;]+)/.exec(req.get('cookie') ?? '')?.[1];
    if (given !== token) return next(new FcError(401, 'Unauthorized', 'the workbench needs the token printed in the banner (?token=...)'));
    // The page loads its assets and API with the cookie once opened with ?token=.
    if (req.query.token) res.cookie('fc_local_token', token, { httpOnly: true, sameSite: 'strict', path: '/_fc-local' });
    next();
  };
}

export function workbenchRoutes(src: WorkbenchSource): express.Router {
  const r = express.Router();
  // The token guards the page, its API, metrics and the injection API; not the logstore reads
  // functions make under /_fc-local/log.
  const guard = tokenGuard(src.token);
  r.use('/events', guard);
  r.get('/', guard, (_req, res) => sendAsset(res, 'index.html'));
  // Coding agents: the same as MCP tools (agent-mcp.ts), under the same token.
  r.all('/mcp', guard, express.json({ limit: '7mb' }), (req, res, next) => {
    agentMcp(src, req, res).catch(next);
  });
  r.get('/assets/:file', guard, (req, res) => sendAsset(res, String(req.params.file)));
  r.get('/metrics', guard, async (_req, res) => {
    const m = await src.metricsText();
    res.type(m.contentType).send(m.text);
  });
  const api = express.Router();
  // Uploads stream to the store as they come: before the JSON parser, which would read a JSON file.
  api.put('/oss/buckets/:bucket/object', ossRoute(async (req, res) => {
    const m = await src.ossBrowser.put(String(req.params.bucket), keyOf(req), req, req.get('content-type'));
    res.json({ key: keyOf(req), size: m.size, etag: m.etag.replace(/"/g, '') });
  }));
  // A state archive streams in before the JSON parser: it may be large, and it is not JSON.
  api.put('/state', async (req, res, next) => {
    try {
      const archive = await getRawBody(req, { limit: STATE_LIMIT });
      await src.state.load(archive);
      res.json({ loaded: archive.length });
    } catch (err) {
      next(err);
    }
  });
  api.get('/state', async (_req, res) => {
    const archive = await src.state.save();
    res.set({ 'content-type': 'application/gzip', 'content-disposition': 'attachment; filename="fc-local-state.tar.gz"' }).send(archive);
  });
  api.delete('/state', async (_req, res) => {
    await src.state.reset();
    res.json({ reset: true });
  });
  api.use(express.json({ limit: '7mb' }));
  api.get('/oss/buckets/:bucket/objects', ossRoute((req, res) => res.json(src.ossBrowser.list(String(req.params.bucket), String(req.query.prefix ?? '')))));
  api.get('/oss/buckets/:bucket/object', ossRoute((req, res) => {
    const { meta, body } = src.ossBrowser.read(String(req.params.bucket), keyOf(req));
    res.set({ 'content-type': meta.contentType, 'content-length': String(meta.size), 'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(path.posix.basename(meta.key))}` });
    body.pipe(res);
  }));
  api.delete('/oss/buckets/:bucket/object', ossRoute((req, res) => res.json({ deleted: src.ossBrowser.delete(String(req.params.bucket), keyOf(req)) })));
  api.get('/oss/activity', (_req, res) => res.json(src.ossActivity()));
  // What this emulator serves besides functions: where the local OSS is and how to sign for it.
  api.get('/', (_req, res) => res.json({ project: src.project(), oss: src.oss(), routes: ['/functions', '/invocations', '/invocations/cursor', '/invocations/next?after=&function=&source=&status=&timeout=', '/idle?timeout=', '/clock', '/clock/advance', '/clock/set', '/state', '/openapi.json', '/invoke', '/events/{type}', '/logs', '/series', '/stream', '/oss', '/oss/buckets/{bucket}/objects?prefix=', '/oss/buckets/{bucket}/object?key=', '/oss/activity'] }));
  api.get('/oss', (_req, res) => res.json(src.oss()));
  api.get('/openapi.json', (_req, res) => res.json(WORKBENCH_OPENAPI));
  api.get('/functions', (_req, res) => res.json(src.functions()));
  api.get('/invocations', (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    res.json(src.invocations({ function: q.function, status: q.status, q: q.q, limit: limitOf(q.limit) }));
  });
  // Waiting for side effects from any language (docs/testing.md): long polls on the feed.
  api.get('/invocations/cursor', (_req, res) => res.json({ cursor: src.feed.cursor() }));
  api.get('/invocations/next', async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    const after = q.after === undefined ? 0 : Number(q.after);
    if (!Number.isInteger(after) || after < 0) throw new FcError(400, 'InvalidArgument', `after must be a cursor: a whole number from a previous answer or /invocations/cursor (got ${q.after})`);
    const timeout = waitMs(q.timeout);
    if (q.status !== undefined && !['succeeded', 'failed', 'throttled'].includes(q.status)) throw new FcError(400, 'InvalidArgument', `status must be succeeded, failed or throttled (got ${q.status})`);
    res.json(await src.feed.next(after, { ...(q.function ? { function: q.function } : {}), ...(q.source ? { source: q.source.split(',') } : {}), ...(q.status ? { status: q.status } : {}), timeout }));
  });
  api.get('/idle', async (req, res) => {
    const timeout = waitMs((req.query as Record<string, string | undefined>).timeout);
    if (!(await src.feed.idle(timeout))) throw new FcError(408, 'IdleTimeout', `invocations were still running or queued after ${timeout} ms`);
    res.json({ idle: true });
  });
  const clockNow = () => ({ now: new Date(src.clock.now()).toISOString(), manual: src.clock.manual });
  api.get('/clock', (_req, res) => res.json(clockNow()));
  api.post('/clock/:how', async (req, res) => {
    const how = String(req.params.how);
    const body = (req.body ?? {}) as { by?: unknown; to?: unknown };
    if (!src.clock.manual) throw new FcError(409, 'ClockIsReal', 'the clock is real: start fc-local with --clock manual to move it');
    const arg = how === 'advance' ? body.by : how === 'set' ? body.to : undefined;
    if (how !== 'advance' && how !== 'set') throw new FcError(404, 'NotFound', `no clock action ${how}: advance ({"by": "1h"}) or set ({"to": "2026-01-01T00:00:00Z"})`);
    if (typeof arg !== 'string' && typeof arg !== 'number') throw new FcError(400, 'InvalidArgument', how === 'advance' ? 'advance takes {"by": <duration>}: ms, or 30s, 15m, 1h, 1d, 1h30m' : 'set takes {"to": <date>}');
    try {
      await (how === 'advance' ? src.clock.advance(arg) : src.clock.set(arg));
    } catch (err) {
      if (err instanceof RangeError) throw new FcError(400, 'InvalidArgument', err.message);
      throw err;
    }
    res.json(clockNow());
  });
  api.get('/invocations/:id', (req, res) => {
    const inv = src.invocation(String(req.params.id));
    if (!inv) throw new FcError(404, 'NotFound', `No recent invocation ${req.params.id}`);
    res.json(inv);
  });
  api.get('/invocations/:id/chain', (req, res) => {
    const chain = src.chain(String(req.params.id));
    if (!chain) throw new FcError(404, 'NotFound', `No recent invocation ${req.params.id}`);
    res.json(chain);
  });
  api.post('/invocations/:id/replay', async (req, res) => res.json(await src.replay(String(req.params.id))));
  api.post('/invoke', async (req, res) => res.json(await src.invoke(req.body)));
  api.get('/event-templates', (_req, res) => res.json(src.eventTemplates()));
  api.post('/events/:type', async (req, res) => res.json(await src.fire(String(req.params.type), req.body)));
  api.get('/logs', (_req, res) => res.json(src.logs()));
  api.get('/series', (req, res) => res.json(src.series(req.query.function as string | undefined)));
  api.get('/stream', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': fc-local\n\n');
    const off = src.subscribe((type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`));
    // A comment now and then keeps proxies and the browser from closing an idle stream.
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    ping.unref();
    req.on('close', () => {
      clearInterval(ping);
      off();
    });
  });
  r.use('/api', guard, api);
  return r;
}

function keyOf(req: Request): string {
  const key = req.query.key;
  if (typeof key !== 'string' || key === '') throw new FcError(400, 'InvalidArgument', 'the object is named by ?key=');
  return key;
}

/** OSS's errors (NoSuchKey, InvalidObjectName, ...) as the workbench API's JSON errors. */
function ossRoute(fn: (req: Request, res: Response) => unknown): express.RequestHandler {
  return (req, res, next) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch((err: unknown) => next(err instanceof OssError ? new FcError(err.status, err.code, err.message) : err));
  };
}

/** The largest state archive the API takes. */
const STATE_LIMIT = 1024 * 1024 * 1024;

/** A wait's timeout in ms: default 30 s, at most 10 min. */
function waitMs(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 30_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new FcError(400, 'InvalidArgument', `timeout must be a whole number of milliseconds up to 600000 (got ${raw})`);
  return n;
}

function limitOf(raw: string | undefined): number | undefined {
  const n = Number(raw);
  if (raw === undefined || raw === '') return undefined;
  if (!Number.isInteger(n) || n < 0) throw new FcError(400, 'InvalidArgument', `limit must be a whole number (got ${raw})`);
  return n;
}

function sendAsset(res: Response, file: string): void {
  const full = path.join(WEB_DIR, path.basename(file));
  if (!existsSync(full)) throw new FcError(404, 'NotFound', `no workbench asset ${file}${existsSync(WEB_DIR) ? '' : ' (the page is not built: npm run build)'}`);
  res.set({ 'content-type': TYPES[path.extname(full)] ?? 'application/octet-stream', 'cache-control': 'no-cache' }).send(readFileSync(full));
}
