import getRawBody from 'raw-body';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { LIMITS, runtimeFamily, TRACE_PARENT_HEADER, type FunctionSpec } from '../model.js';
import { Transform } from 'node:stream';
import { codeInfo } from '../runtime/code-checksum.js';
import type { InvocationCause, Invoker, Outcome, StreamSink } from '../runtime/invoker.js';
import { FcError } from './errors.js';
import { sessionHandling } from './sessions.js';

// Shared by the routes that run functions: reading a body within FC's limits, FC's response
// headers, and handing an HTTP request to an HTTP function.

// Response headers FC sets itself; a function's own are dropped (the guide's list).
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'content-length', 'content-encoding', 'date', 'keep-alive', 'proxy-authenticate', 'server', 'trailer', 'transfer-encoding', 'upgrade']);

const EMPTY = Buffer.alloc(0);

export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => FcError): Promise<Buffer> {
  // Most trigger requests (GET, HEAD) have no body: answer without a stream round trip.
  if (req.headers['content-length'] === '0' || (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)) {
    return EMPTY;
  }
  try {
    return await getRawBody(req, { limit, length: req.headers['content-length'] });
  } catch (err) {
    if ((err as { type?: string }).type === 'entity.too.large') throw tooLarge();
    throw new FcError(400, 'InvalidArgument', `Could not read the request body: ${(err as Error).message}`);
  }
}

/** A request body at least this large (or of no declared length) streams to a custom runtime. */
const STREAM_IN_BYTES = 1024 * 1024;

/**
 * The body of a request to an HTTP function: read whole (undefined means "stream it": a custom
 * runtime's large or chunked upload, when nothing needs it first, e.g. a signature over it).
 * Small bodies are read whole so that a request can still go to another instance if it provably
 * never reached the first.
 */
export async function httpBody(f: FunctionSpec, req: IncomingMessage, bodyNeeded: boolean): Promise<Buffer | undefined> {
  const tooLarge = () => new FcError(400, 'InvalidArgument', `The request body exceeds ${LIMITS.payloadBytes} bytes`);
  const declared = req.headers['content-length'];
  const chunked = declared === undefined && req.headers['transfer-encoding'] !== undefined;
  if (runtimeFamily(f.runtime) === 'custom' && !bodyNeeded && (chunked || Number(declared) >= STREAM_IN_BYTES)) {
    if (declared !== undefined && Number(declared) > LIMITS.payloadBytes) throw tooLarge();
    return undefined;
  }
  return readBody(req, LIMITS.payloadBytes, tooLarge);
}

/** Passes a streamed body on, failing it past FC's limit (the client declared no length). */
function limited(req: IncomingMessage, limit: number): NodeJS.ReadableStream {
  let size = 0;
  return req.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(size > limit ? new Error(`The request body exceeds ${limit} bytes`) : null, chunk);
      },
    }),
  );
}

export async function outcomeHeaders(fnSpec: FunctionSpec, out: Outcome): Promise<Record<string, string>> {
  const h: Record<string, string> = {
    'X-Fc-Request-Id': out.requestId,
    'X-Fc-Code-Checksum': (await codeInfo(fnSpec.codeUri)).checksum,
    'X-Fc-Invocation-Duration': String(out.durationMs),
    'X-Fc-Invocation-Service-Version': 'LATEST',
  };
  if (out.maxMemoryUsedMB !== undefined) h['X-Fc-Max-Memory-Usage'] = String(out.maxMemoryUsedMB);
  if (out.errorType) h['X-Fc-Error-Type'] = out.errorType;
  if (out.instanceId) h['X-Fc-Instance-Id'] = out.instanceId;
  return h;
}

/**
 * Runs an HTTP function on a request (an HTTP trigger's or a custom domain's): `url` is the path
 * and query the function sees. Function failures are 502 with FC's error JSON.
 */
export async function forwardHttp(invoker: Invoker, f: FunctionSpec, req: IncomingMessage, res: ServerResponse, url: string, body: Buffer | undefined, requestId: string, fnPath = url): Promise<void> {
  const method = req.method ?? 'GET';
  const session = f.session ? sessionHandling(invoker, f, req, res, fnPath) : undefined;
  // A streaming answer (custom runtimes) goes out as the function writes it: status and headers
  // at once, then each chunk.
  const stream: StreamSink | undefined =
    method === 'HEAD'
      ? undefined
      : (status, fnHeaders) => {
          session?.head?.(fnHeaders);
          res.writeHead(status, passedHeaders(fnHeaders, requestId));
          res.flushHeaders();
          return session?.tap?.(res) ?? res;
        };
  const streamIn = body === undefined ? { bodyStream: limited(req, LIMITS.payloadBytes) } : {};
  let out: Outcome;
  try {
    out = await invoker.invokeHttp(f, { method, url, headers: req.headers, body: body ?? EMPTY, clientIP: req.socket.remoteAddress ?? '', ...(stream ? { stream } : {}), ...streamIn, session: session?.request, cause: httpCause(req) }, requestId);
  } finally {
    session?.done?.();
  }
  if (out.streamed || res.headersSent) return;
  if (out.badResponse) throw new FcError(502, 'BadResponse', JSON.parse(out.body.toString()).errorMessage);
  if (out.errorType) {
    res.writeHead(502, { ...(await outcomeHeaders(f, out)), 'X-Fc-Error-Type': 'UnhandledInvocationError', 'Content-Type': 'application/json' });
    res.end(out.body);
    return;
  }
  res.writeHead(out.statusCode ?? 200, passedHeaders(out.headers ?? {}, requestId));
  res.end(method === 'HEAD' ? undefined : out.body);
}


/**
 * The function that made an HTTP request, for the trace (none for most: nothing is allocated
 * then); the request itself the recorder names from the record when asked.
 */
export function httpCause(req: IncomingMessage): InvocationCause | undefined {
  const parent = req.headers[TRACE_PARENT_HEADER];
  return typeof parent === 'string' && parent ? { parent } : undefined;
}

/** A function's response headers as FC passes them on: its own x-fc-* and hop headers dropped. */
function passedHeaders(from: IncomingHttpHeaders, requestId: string): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined || k.startsWith('x-fc-') || DROPPED_RESPONSE_HEADERS.has(k)) continue;
    headers[k] = v;
  }
  headers['x-fc-request-id'] = requestId;
  return headers;
}

