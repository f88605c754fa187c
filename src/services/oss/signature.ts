import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { OssError } from './errors.js';

// OSS's signatures, checked against fc-local's credentials: the same ones functions get in
// context.credentials, so code built from them is let in. V1 (`Authorization: OSS <AccessKeyId>:
// <Signature>`, presigned URLs with OSSAccessKeyId, Expires and Signature) and V4
// (`OSS4-HMAC-SHA256 Credential=...`, presigned URLs with x-oss-credential, x-oss-date,
// x-oss-expires and x-oss-signature). An STS token (x-oss-security-token, security-token) is
// accepted with those keys.

/** Query parameters OSS signs as sub-resources (the others, prefix, marker, ..., are not). */
const SUBRESOURCES = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append', 'tagging',
  'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName', 'replication',
  'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live', 'status', 'vod',
  'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type', 'response-content-language',
  'response-expires', 'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'udf',
  'udfName', 'udfImage', 'udfId', 'udfImageDesc', 'udfApplication', 'udfApplicationLog', 'restore', 'callback',
  'callback-var', 'continuation-token', 'versionId', 'versioning', 'versions', 'stat', 'policy', 'encryption',
  'requestPayment', 'worm', 'wormId', 'wormExtend', 'inventory', 'inventoryId', 'objectInfo', 'asyncFetch',
  'sequential', 'transferAcceleration', 'resourceGroup',
]);

export interface SignedRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** /bucket/key (or /bucket/, or /), the key decoded. */
  resource: string;
  query: URLSearchParams;
}

export interface OssKeys {
  accessKeyId: string;
  accessKeySecret: string;
}

function header(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

function canonicalResource(resource: string, query: URLSearchParams, skip: Set<string>): string {
  const subs = [...new Set([...query.keys()])].filter((k) => SUBRESOURCES.has(k) && !skip.has(k)).sort();
  if (!subs.length) return resource;
  return `${resource}?${subs.map((k) => (query.get(k) ? `${k}=${query.get(k)}` : k)).join('&')}`;
}

function stringToSign(r: SignedRequest, dateSlot: string, skip: Set<string>): string {
  const ossHeaders = Object.keys(r.headers)
    .filter((k) => k.startsWith('x-oss-'))
    .sort()
    .map((k) => `${k}:${header(r.headers, k).trim()}`);
  return [r.method.toUpperCase(), header(r.headers, 'content-md5'), header(r.headers, 'content-type'), dateSlot, ...ossHeaders, canonicalResource(r.resource, r.query, skip)].join('\n');
}

function sign(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const denied = (message: string) => new OssError(403, 'AccessDenied', message);
const mismatch = (text: string) =>
  new OssError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', { StringToSign: text });

/** Whether the request carries a signature at all (an anonymous request may still read a public-read object). */
export function isSigned(r: SignedRequest): boolean {
  return header(r.headers, 'authorization') !== '' || r.query.has('Signature') || r.query.has('x-oss-signature');
}

/** Throws OSS's 403 unless the request is signed with `keys` (header or presigned URL). */
export function verifyOss(r: SignedRequest, keys: OssKeys, now = Date.now()): void {
  const auth = header(r.headers, 'authorization');
  if (auth) {
    if (auth.startsWith('OSS4-HMAC-SHA256')) return verifyV4Header(r, auth, keys, now);
    const m = /^OSS ([^:]+):(.+)$/.exec(auth);
    if (!m) throw new OssError(400, 'InvalidArgument', 'Authorization header is invalid.');
    if (m[1] !== keys.accessKeyId) throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: m[1]! });
    // ali-oss signs x-oss-date in the date slot, other clients the Date header: either matches.
    const dates = [header(r.headers, 'x-oss-date'), header(r.headers, 'date')].filter((d, i, all) => d !== '' && all.indexOf(d) === i);
    const texts = (dates.length ? dates : ['']).map((d) => stringToSign(r, d, new Set()));
    if (!texts.some((t) => same(sign(keys.accessKeySecret, t), m[2]!))) throw mismatch(texts[0]!);
    const date = Date.parse(dates[0] ?? '');
    if (Number.isFinite(date) && Math.abs(now - date) > 15 * 60_000) throw new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
    return;
  }
  if (r.query.get('x-oss-signature-version') === 'OSS4-HMAC-SHA256') return verifyV4Query(r, keys, now);
  const id = r.query.get('OSSAccessKeyId');
  const signature = r.query.get('Signature');
  const expires = r.query.get('Expires');
  if (!id || !signature || !expires) throw denied('The request is not signed: anonymous access is allowed only to public objects.');
  if (id !== keys.accessKeyId) throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: id });
  if (Number(expires) * 1000 < now) throw denied('Request has expired.');
  const text = stringToSign(r, expires, new Set(['OSSAccessKeyId', 'Expires', 'Signature']));
  if (!same(sign(keys.accessKeySecret, text), signature)) throw mismatch(text);
}

// V4: HMAC-SHA256 over a canonical request, with a key derived from the secret, the day, the
// region and the product, as OSS's "signature version 4" documents it.

/** RFC 3986 encoding as OSS's V4 canonical forms use it. */
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

interface V4Scope {
  accessKeyId: string;
  day: string;
  region: string;
  product: string;
}

function scopeOf(credential: string): V4Scope {
  const [accessKeyId, day, region, product, terminator] = credential.split('/');
  if (!accessKeyId || !day || !region || !product || terminator !== 'aliyun_v4_request') {
    throw new OssError(400, 'InvalidArgument', `The credential ${credential} is not <AccessKeyId>/<SignDate>/<SignRegion>/oss/aliyun_v4_request.`);
  }
  return { accessKeyId, day, region, product };
}

/**
 * The canonical requests a V4 signature may have been computed over: a query parameter without a
 * value is `key` in some SDKs' canonical form and `key=` in others', so both are tried.
 */
function canonicalRequestsV4(r: SignedRequest, additional: string[], skipQuery: string | undefined): string[] {
  const uri = rfc3986(r.resource).replace(/%2F/g, '/');
  const params = [...r.query.entries()].filter(([k]) => k !== skipQuery).map(([k, v]) => [rfc3986(k), v === '' ? undefined : rfc3986(v)] as const);
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = (bare: boolean) => params.map(([k, v]) => (v === undefined ? (bare ? k : `${k}=`) : `${k}=${v}`)).join('&');
  const signedHeaders = new Set(additional);
  for (const k of Object.keys(r.headers)) if (k === 'content-type' || k === 'content-md5' || k.startsWith('x-oss-')) signedHeaders.add(k);
  const canonicalHeaders = [...signedHeaders].sort().map((k) => `${k}:${header(r.headers, k).trim()}\n`).join('');
  const payload = header(r.headers, 'x-oss-content-sha256') || 'UNSIGNED-PAYLOAD';
  const forms = params.some(([, v]) => v === undefined) ? [query(true), query(false)] : [query(true)];
  return forms.map((q) => [r.method.toUpperCase(), uri, q, canonicalHeaders, additional.join(';'), payload].join('\n'));
}

/** The signing key of a day, region and product. */
function v4Key(secret: string, scope: V4Scope): Buffer {
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
  return hmac(hmac(hmac(hmac(`aliyun_v4${secret}`, scope.day), scope.region), scope.product), 'aliyun_v4_request');
}

function signV4(secret: string, scope: V4Scope, date: string, canonical: string): { text: string; signature: string } {
  const text = ['OSS4-HMAC-SHA256', date, `${scope.day}/${scope.region}/${scope.product}/aliyun_v4_request`, createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
  return { text, signature: createHmac('sha256', v4Key(secret, scope)).update(text, 'utf8').digest('hex') };
}

/** x-oss-date's yyyymmddTHHMMSSZ as a time, or NaN. */
function v4Time(date: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
}

function checkV4(r: SignedRequest, keys: OssKeys, scope: V4Scope, date: string, additional: string[], signature: string, skipQuery?: string): void {
  if (scope.accessKeyId !== keys.accessKeyId) throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: scope.accessKeyId });
  if (!date.startsWith(scope.day)) throw denied(`The date ${date} is not the credential's day ${scope.day}.`);
  const candidates = canonicalRequestsV4(r, additional, skipQuery).map((c) => signV4(keys.accessKeySecret, scope, date, c));
  if (!candidates.some((c) => same(c.signature, signature))) throw mismatch(candidates[0]!.text);
}

function verifyV4Header(r: SignedRequest, auth: string, keys: OssKeys, now: number): void {
  const fields = new Map(
    auth
      .slice('OSS4-HMAC-SHA256'.length)
      .split(',')
      .map((f) => f.trim().split('=') as [string, string?])
      .map(([k, v]) => [k, v ?? ''] as const),
  );
  const credential = fields.get('Credential');
  const signature = fields.get('Signature');
  if (!credential || !signature) throw new OssError(400, 'InvalidArgument', 'Authorization header is invalid: OSS4-HMAC-SHA256 needs Credential and Signature.');
  const date = header(r.headers, 'x-oss-date');
  if (!date) throw new OssError(400, 'InvalidArgument', 'A V4-signed request needs the x-oss-date header.');
  const additional = fields.has('AdditionalHeaders') ? fields.get('AdditionalHeaders')!.split(';') : [];
  if (additional.some((h) => h === '')) throw new OssError(400, 'InvalidArgument', 'AdditionalHeaders holds an empty header name.');
  checkV4(r, keys, scopeOf(credential), date, additional, signature);
  const time = v4Time(date);
  if (!Number.isFinite(time)) throw new OssError(400, 'InvalidArgument', `x-oss-date ${date} is not yyyymmddTHHMMSSZ.`);
  if (Math.abs(now - time) > 15 * 60_000) throw new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
}

function verifyV4Query(r: SignedRequest, keys: OssKeys, now: number): void {
  const credential = r.query.get('x-oss-credential');
  const date = r.query.get('x-oss-date');
  const expires = Number(r.query.get('x-oss-expires'));
  const signature = r.query.get('x-oss-signature');
  if (!credential || !date || !signature || !Number.isFinite(expires)) throw denied('A V4 presigned URL needs x-oss-credential, x-oss-date, x-oss-expires and x-oss-signature.');
  const additional = r.query.get('x-oss-additional-headers')?.split(';') ?? [];
  checkV4(r, keys, scopeOf(credential), date, additional, signature, 'x-oss-signature');
  const time = v4Time(date);
  if (!Number.isFinite(time)) throw new OssError(400, 'InvalidArgument', `x-oss-date ${date} is not yyyymmddTHHMMSSZ.`);
  if (time + expires * 1000 < now) throw denied('Request has expired.');
}

/**
 * PostObject's signature over its base64 policy: V1 (OSSAccessKeyId, Signature: base64 HMAC-SHA1)
 * or V4 (x-oss-signature-version, x-oss-credential, x-oss-date, x-oss-signature: hex HMAC-SHA256
 * with the derived key). `field` reads a form field by its lowercase name.
 */
export function verifyPostPolicy(field: (name: string) => string | undefined, policy: string, keys: OssKeys): void {
  if (field('x-oss-signature-version') === 'OSS4-HMAC-SHA256') {
    const credential = field('x-oss-credential');
    const date = field('x-oss-date');
    const signature = field('x-oss-signature');
    if (!credential || !date || !signature) throw denied('A V4 form upload needs x-oss-credential, x-oss-date and x-oss-signature.');
    const scope = scopeOf(credential);
    if (scope.accessKeyId !== keys.accessKeyId) throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: scope.accessKeyId });
    const key = v4Key(keys.accessKeySecret, scope);
    if (!same(createHmac('sha256', key).update(policy, 'utf8').digest('hex'), signature)) throw mismatch(policy);
    return;
  }
  const id = field('ossaccesskeyid');
  const signature = field('signature');
  if (!id || !signature) throw denied('The form upload is not signed: OSSAccessKeyId, policy and Signature are needed unless the bucket is public-read-write.');
  if (id !== keys.accessKeyId) throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: id });
  if (!same(sign(keys.accessKeySecret, policy), signature)) throw mismatch(policy);
}
