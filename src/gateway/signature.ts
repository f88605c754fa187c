import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Credentials } from '../model.js';
import { FcError } from './errors.js';

// FC's request signature: `Authorization: FC <accessKeyId>:<base64 HMAC-SHA256>` over
// method, content-md5, content-type, date, the sorted x-fc-* headers, the unescaped path and,
// for /proxy/ paths, the sorted query pairs. The same function signs (tests, clients) and checks.

const MAX_SKEW_MS = 15 * 60_000;

export type Queries = Record<string, string | string[]>;

export function stringToSign(method: string, path: string, headers: IncomingHttpHeaders | Record<string, string>, queries?: Queries): string {
  const h = (k: string) => {
    const v = headers[k];
    return Array.isArray(v) ? v.join(',') : (v ?? '');
  };
  const fcHeaders = Object.keys(headers)
    .map((k) => k.toLowerCase().trim())
    .filter((k) => k.startsWith('x-fc-'))
    .sort()
    .map((k) => `${k}:${h(k)}\n`)
    .join('');
  let s = `${method}\n${h('content-md5')}\n${h('content-type')}\n${h('date')}\n${fcHeaders}${path}`;
  if (queries) {
    const pairs = Object.entries(queries).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`));
    s += `\n${pairs.sort().join('\n')}`;
  }
  return s;
}

export function sign(accessKeyId: string, secret: string, text: string): string {
  return `FC ${accessKeyId}:${createHmac('sha256', secret).update(text, 'utf8').digest('base64')}`;
}

export interface SignedRequest {
  method: string;
  /** The unescaped path, e.g. /2016-08-15/proxy/svc/fn/a b */
  path: string;
  headers: IncomingHttpHeaders;
  /** Only for HTTP-trigger (/proxy/) paths. */
  queries?: Queries;
}

/** Throws FcError 400 (missing headers) or 403 (bad signature, skewed date, unknown key). */
export function verifySignature(req: SignedRequest, creds: Credentials, now = Date.now()): void {
  const auth = req.headers.authorization;
  const date = req.headers.date;
  if (!auth || !date) {
    throw new FcError(400, 'MissingRequiredHeader', `The request must carry ${!auth ? 'an Authorization' : 'a Date'} header (signed requests are required; start with --no-auth to allow unsigned ones)`);
  }
  const when = Date.parse(date);
  if (Number.isNaN(when) || Math.abs(now - when) > MAX_SKEW_MS) {
    throw new FcError(403, 'RequestTimeTooSkewed', `The Date header '${date}' is more than 15 minutes away from the server time ${new Date(now).toUTCString()}`);
  }
  const m = /^FC ([^:]+):(.+)$/.exec(auth);
  if (!m) throw new FcError(403, 'SignatureNotMatch', "The Authorization header must read 'FC <accessKeyId>:<signature>'");
  if (!creds.accessKeyId || m[1] !== creds.accessKeyId) {
    throw new FcError(403, 'InvalidAccessKeyID', `The access key id '${m[1]}' is not the one fc-local serves (${creds.accessKeyId ? 'see credentials in the start banner' : 'no local credentials are configured'})`);
  }
  const text = stringToSign(req.method, req.path, req.headers, req.queries);
  const expected = Buffer.from(sign(creds.accessKeyId, creds.accessKeySecret, text));
  const given = Buffer.from(auth);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new FcError(403, 'SignatureNotMatch', `The request signature does not match. The string to sign was: ${JSON.stringify(text)}`);
  }
}
