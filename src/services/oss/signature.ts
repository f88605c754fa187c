import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { OssError } from './errors.js';

// OSS's V1 signatures (`Authorization: OSS <AccessKeyId>:<Signature>`, and presigned URLs with
// OSSAccessKeyId, Expires and Signature), checked against fc-local's credentials: the same ones
// functions get in context.credentials, so code built from them is let in. An STS token
// (x-oss-security-token, security-token) is accepted with those keys.

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
    if (auth.startsWith('OSS4-HMAC-SHA256')) throw denied('fc-local checks OSS V1 signatures (OSS <AccessKeyId>:<Signature>); V4 is not emulated yet: sign with V1 (the SDKs default to it)');
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
  const id = r.query.get('OSSAccessKeyId');
  const signature = r.query.get('Signature');
  const expires = r.query.get('Expires');
  if (!id || !signature || !expires) throw denied('The request is not signed: anonymous access is allowed only to public objects.');
  if (id !== keys.accessKeyId) throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: id });
  if (Number(expires) * 1000 < now) throw denied('Request has expired.');
  const text = stringToSign(r, expires, new Set(['OSSAccessKeyId', 'Expires', 'Signature']));
  if (!same(sign(keys.accessKeySecret, text), signature)) throw mismatch(text);
}
