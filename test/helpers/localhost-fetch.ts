import http from 'node:http';
import { Readable } from 'node:stream';

/**
 * fetch for `*.localhost` names (function URLs, custom domains) on a machine whose resolver does
 * not map them to 127.0.0.1: connects to 127.0.0.1 and sends the name as the Host header, which
 * undici's fetch would not. The answer's body streams, so SSE works through it.
 */
export function localhostFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : input);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  headers.host = url.host;
  const body = init.body;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: url.port || 80, method: init.method ?? 'GET', path: url.pathname + url.search, headers, agent: false }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
      const status = res.statusCode ?? 0;
      const noBody = status === 204 || status === 304 || init.method === 'HEAD';
      if (noBody) res.resume();
      resolve(new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream), { status, headers: h }));
    });
    req.on('error', reject);
    init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
    if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else req.end();
  });
}
