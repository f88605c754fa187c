import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Credentials } from '../model.js';
import { FcError } from './errors.js';

// The ACS3-HMAC-SHA256 signature of Alibaba Cloud's current SDKs (FC 3.0's API 2023-03-30, FC
// 2.0's 2021-04-06, FC 3.0 HTTP triggers with authType function), checked as the SDKs compute it:
//   canonical request = METHOD, the encoded path, the sorted re-encoded query, the signed headers
//   (host, content-type, x-acs-*), their names, the hex SHA-256 of the body;
//   string to sign    = "ACS3-HMAC-SHA256\n" + hex SHA-256 of the canonical request;
//   signature         = hex HMAC-SHA256(secret, string to sign).
// x-acs-date must be within 15 minutes and x-acs-signature-nonce unused within that window.

const ALGORITHM = 'ACS3-HMAC-SHA256';
const MAX_SKEW_MS = 15 * 60_000;

/** RFC 3986 encoding as the SDKs do it: encodeURIComponent plus ! ' ( ) *. */
export function acsEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

/** The query as the signer saw it: each key and value decoded, re-encoded, sorted by key. */
export function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  const pairs = rawQuery
    .split('&')
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? [decode(p), ''] : [decode(p.slice(0, i)), decode(p.slice(i + 1))];
    }) as [string, string][];
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return pairs.map(([k, v]) => `${acsEncode(k)}=${acsEncode(v)}`).join('&');
}

/** The path as the signer encoded it: each segment decoded and re-encoded. */
export function canonicalPath(rawPath: string): string {
  return rawPath
    .split('/')
    .map((seg) => acsEncode(decode(seg)))
    .join('/');
}

const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export interface Acs3Request {
  method: string;
  /** Path and query as they came on the wire. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function stringToSign(req: Acs3Request, signedHeaders: string[]): string {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1);
  const headers = signedHeaders.map((n) => `${n}:${(header(req.headers, n) ?? '').trim()}\n`).join('');
  const canonical = [req.method.toUpperCase(), canonicalPath(rawPath), canonicalQuery(rawQuery), headers, signedHeaders.join(';'), header(req.headers, 'x-acs-content-sha256') ?? sha256Hex(req.body)].join('\n');
  return `${ALGORITHM}\n${sha256Hex(canonical)}`;
}

/** Signs a request as the SDKs do (tests, and clients of the local API). */
export function signAcs3(req: Acs3Request, creds: { accessKeyId: string; accessKeySecret: string }): string {
  const signed = Object.keys(req.headers)
    .map((k) => k.toLowerCase())
    .filter((k) => k === 'host' || k === 'content-type' || k.startsWith('x-acs-'))
    .sort();
  const signature = createHmac('sha256', creds.accessKeySecret).update(stringToSign(req, signed)).digest('hex');
  return `${ALGORITHM} Credential=${creds.accessKeyId},SignedHeaders=${signed.join(';')},Signature=${signature}`;
}

/** Nonces seen within the skew window: a replayed request is refused. */
export class NonceCache {
  private readonly seen = new Map<string, number>();

  use(nonce: string, now: number): boolean {
    if (this.seen.size > 10_000) for (const [n, at] of this.seen) if (now - at > MAX_SKEW_MS) this.seen.delete(n);
    if (this.seen.has(nonce)) return false;
    this.seen.set(nonce, now);
    return true;
  }
}

/** Throws FcError: 400 for a missing part, 403 for a wrong, stale or replayed signature. */
export function verifyAcs3(req: Acs3Request, creds: Credentials, nonces: NonceCache, now = Date.now()): void {
  const auth = header(req.headers, 'authorization');
  const m = auth && /^ACS3-HMAC-SHA256\s+Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)$/i.exec(auth.trim());
  if (!m) throw new FcError(400, 'MissingAuthorization', 'The request must be signed with ACS3-HMAC-SHA256 (Authorization: ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...); start with --no-auth to allow unsigned ones');
  const date = header(req.headers, 'x-acs-date');
  if (!date) throw new FcError(400, 'MissingDate', 'The request must carry an x-acs-date header');
  const when = Date.parse(date);
  if (Number.isNaN(when) || Math.abs(now - when) > MAX_SKEW_MS) {
    throw new FcError(403, 'RequestTimeTooSkewed', `x-acs-date '${date}' is more than 15 minutes away from the server time ${new Date(now).toISOString()}`);
  }
  const [, accessKeyId, signedList, signature] = m as unknown as [string, string, string, string];
  if (!creds.accessKeyId || accessKeyId !== creds.accessKeyId) {
    throw new FcError(403, 'InvalidAccessKeyId.NotFound', `The access key id '${accessKeyId}' is not the one fc-local serves`);
  }
  const token = header(req.headers, 'x-acs-security-token');
  if (creds.securityToken && token !== creds.securityToken) throw new FcError(403, 'InvalidSecurityToken', 'x-acs-security-token does not match the local credentials');
  const contentHash = header(req.headers, 'x-acs-content-sha256');
  if (contentHash && contentHash !== sha256Hex(req.body)) throw new FcError(400, 'ContentSHA256Mismatch', 'x-acs-content-sha256 is not the SHA-256 of the body');
  const signed = signedList.toLowerCase().split(';');
  for (const required of ['host', 'x-acs-date']) {
    if (!signed.includes(required)) throw new FcError(400, 'IncompleteSignature', `SignedHeaders must include ${required}`);
  }
  const expected = createHmac('sha256', creds.accessKeySecret).update(stringToSign(req, signed)).digest('hex');
  const a = Buffer.from(expected);
  const b = Buffer.from(signature.toLowerCase());
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new FcError(403, 'SignatureDoesNotMatch', 'The request signature does not match (ACS3-HMAC-SHA256 with the local credentials)');
  }
  const nonce = header(req.headers, 'x-acs-signature-nonce');
  if (nonce && !nonces.use(nonce, now)) throw new FcError(403, 'SignatureNonceUsed', `The signature nonce '${nonce}' was already used`);
}
