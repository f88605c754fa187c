import type { IncomingMessage, ServerResponse } from 'node:http';
import { LIMITS, TRACE_PARENT_HEADER, type FunctionSpec } from '../model.js';
import { DuplicateInvocationError } from '../runtime/async/queue.js';
import type { GatewayDeps } from './deps.js';
import { FcError } from './errors.js';
import { outcomeHeaders, readBody } from './forward.js';
import { sessionHandling } from './sessions.js';

// Invoking an event function through an API, FC 2.0's or 3.0's: the invocation type, the body
// within its limit, async acceptance and the sync answer with FC's headers.

const LOG_TAIL_BYTES = 4 * 1024;

export function invocationType(headers: IncomingMessage['headers']): 'sync' | 'async' {
  const raw = headers['x-fc-invocation-type'];
  const type = String(raw ?? 'Sync').toLowerCase();
  if (type !== 'sync' && type !== 'async') throw new FcError(400, 'InvalidArgument', `X-Fc-Invocation-Type must be Sync or Async (got '${String(raw)}')`);
  return type;
}

export function readInvocationBody(req: IncomingMessage, type: 'sync' | 'async'): Promise<Buffer> {
  const limit = type === 'async' ? LIMITS.asyncPayloadBytes : LIMITS.payloadBytes;
  return readBody(req, limit, () => new FcError(413, 'EntityTooLarge', `The ${type === 'async' ? 'asynchronous' : 'synchronous'} invocation payload exceeds ${limit} bytes`));
}

/**
 * An invocation of an event function through an API (FC 2.0's or 3.0's): async ones are
 * journaled and answered 202 with their id (from `idHeader`, else the request id); sync ones
 * answer the result with FC's headers, and the log tail when asked.
 */
export async function runInvocation(
  deps: Pick<GatewayDeps, 'invoker' | 'async'>,
  f: FunctionSpec,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  event: Buffer,
  idHeader: string,
): Promise<void> {
  // A function calling the API through fc-local's agent: its invocation is this one's cause.
  const given = req.headers[TRACE_PARENT_HEADER];
  const parent = typeof given === 'string' && given ? given : undefined;
  if (invocationType(req.headers) === 'async') {
    // 202 only once the invocation is on disk: an accepted async invocation survives a crash.
    const given = req.headers[idHeader];
    const invocationId = (Array.isArray(given) ? given[0] : given) || undefined;
    try {
      await deps.async.enqueue(f, event, { requestId, invocationId, ...(parent ? { parent } : {}) });
    } catch (err) {
      if (err instanceof DuplicateInvocationError) throw new FcError(409, 'StatefulAsyncInvocationAlreadyExists', err.message);
      throw err;
    }
    res.writeHead(202, { 'X-Fc-Request-Id': requestId, 'X-Fc-Stateful-Async-Invocation-Id': invocationId ?? requestId, 'X-Fc-Async-Task-Id': invocationId ?? requestId });
    res.end();
    return;
  }
  const logType = String(req.headers['x-fc-log-type'] ?? 'None').toLowerCase();
  if (logType !== 'tail' && logType !== 'none') throw new FcError(400, 'InvalidArgument', `X-Fc-Log-Type must be None or Tail (got '${String(req.headers['x-fc-log-type'])}')`);
  // FC 3.0 routes InvokeFunction by session too (HEADER_FIELD, cookie): async invocations have none.
  const affinity = f.session?.type;
  const session = affinity === 'HEADER_FIELD' || affinity === 'GENERATED_COOKIE' ? sessionHandling(deps.invoker, f, req, res, '/') : undefined;
  const out = await deps.invoker.invokeEvent(f, event, requestId, 'api', { ...(session ? { session: session.request } : {}), ...(parent ? { cause: { parent } } : {}) });
  if (out.badResponse) throw new FcError(502, 'BadResponse', JSON.parse(out.body.toString()).errorMessage);
  const headers = await outcomeHeaders(f, out); // a fresh object: completed in place
  headers['Content-Type'] = 'application/octet-stream';
  if (logType === 'tail') {
    const logs = Buffer.from(out.logs.join('\n') + (out.logs.length ? '\n' : ''));
    headers['X-Fc-Log-Result'] = logs.subarray(Math.max(0, logs.length - LOG_TAIL_BYTES)).toString('base64');
  }
  res.writeHead(200, headers);
  res.end(out.body);
}

