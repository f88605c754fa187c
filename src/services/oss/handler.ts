import type { IncomingMessage, ServerResponse } from 'node:http';
import { XMLParser } from 'fast-xml-parser';
import { TRACE_PARENT_HEADER } from '../../model.js';
import { errorXml, newRequestId, OssError, xmlDocument } from './errors.js';
import { checkBucket, checkKey } from './names.js';
import { postObject } from './post-object.js';
import { isSigned, verifyOss, type OssKeys } from './signature.js';
import { typeOfKey, type ObjectMeta, type OssStore, type PutOptions } from './store.js';

// The local OSS's HTTP API: OSS's operations on buckets and objects, with its headers, XML bodies
// and XML errors, over a store of folders. Buckets are reached path style on fc-local's OSS port
// (http://127.0.0.1:<port>/<bucket>/<key>) or virtual-hosted (<bucket>.oss-<region>.localhost).
// Every write and delete is reported to `onEvent` with the event name OSS gives it.

export interface OssEvent {
  bucket: string;
  key: string;
  /** Without the `oss:` prefix, e.g. ObjectCreated:PutObject. */
  eventName: string;
  size: number;
  etag: string;
  /** The request id of the invocation that wrote it, when a function did (through fc-local's agent). */
  parent?: string;
}

export interface OssApiOptions {
  store: OssStore;
  region: string;
  /** The keys signatures are checked against; undefined: unsigned requests are accepted (--no-auth). */
  keys?: OssKeys;
  onEvent?: (e: OssEvent) => void;
}

const OWNER = { ID: 'fc-local', DisplayName: 'fc-local' };
const xmlIn = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'Part' || name === 'Object' });
// A bucket's own host name: <bucket>.oss-<region>[-internal].localhost here, or OSS's own
// <bucket>.oss-<region>[-internal].aliyuncs.com, which SDKs send as the Host header whatever
// endpoint they connect to.
const VIRTUAL_HOST = /^([a-z0-9][a-z0-9-]{1,61}[a-z0-9])\.oss-[a-z0-9-]+\.(?:localhost|aliyuncs\.com)(?::\d+)?$/i;
/** Host names that reach the local OSS on fc-local's main port: oss-<region>.localhost (or OSS's own names) and their buckets'. */
export const OSS_HOST = /(^|\.)oss-[a-z0-9-]+\.(?:localhost|aliyuncs\.com)(?::\d+)?$/i;
const ACLS = new Set(['private', 'public-read', 'public-read-write', 'default']);

interface Target {
  bucket?: string;
  key?: string;
}

/** Which bucket and key a request names: by its Host (virtual-hosted) or its path. */
function targetOf(req: IncomingMessage): Target {
  // The raw path: URL parsing would resolve `..` segments before they could be refused.
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const vhost = VIRTUAL_HOST.exec(req.headers.host ?? '');
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new OssError(400, 'InvalidURI', 'Could not parse the specified URI.');
    }
  };
  if (vhost) return { bucket: vhost[1]!.toLowerCase(), key: path.length > 1 ? decode(path.slice(1)) : undefined };
  const [, bucket, ...rest] = path.split('/');
  return { bucket: bucket ? decode(bucket) : undefined, key: rest.length && rest.join('/') !== '' ? decode(rest.join('/')) : undefined };
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, '.000Z');
const encoded = (url: boolean) => (s: string) => (url ? encodeURIComponent(s).replace(/%2F/g, '/') : s);

const STANDARD_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'];

/** An object's options from request headers, or from a form's fields (PostObject): the same names. */
function optionsFrom(get: (name: string) => string | undefined, names: Iterable<string>, key: string, fallbackType: (key: string) => string): PutOptions {
  const acl = get('x-oss-object-acl');
  if (acl && !ACLS.has(acl)) throw new OssError(400, 'InvalidArgument', 'no such object access control exists');
  const headers: Record<string, string> = {};
  for (const h of STANDARD_HEADERS) if (get(h)) headers[h] = get(h)!;
  const userMeta: Record<string, string> = {};
  for (const n of names) if (n.startsWith('x-oss-meta-') && get(n) !== undefined) userMeta[n.slice(11)] = get(n)!;
  return {
    contentType: get('content-type') || fallbackType(key),
    userMeta,
    acl: acl ?? 'default',
    storageClass: get('x-oss-storage-class') ?? 'Standard',
    headers,
  };
}

function putOptionsOf(req: IncomingMessage, key: string, fallbackType: (key: string) => string): PutOptions {
  const get = (name: string) => {
    const v = req.headers[name];
    return v === undefined ? undefined : String(v);
  };
  return optionsFrom(get, Object.keys(req.headers), key, fallbackType);
}

function objectHeaders(m: ObjectMeta): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': m.contentType,
    etag: m.etag,
    'last-modified': m.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
    'x-oss-object-type': m.type,
    'x-oss-storage-class': m.storageClass,
    ...m.headers,
  };
  for (const [k, v] of Object.entries(m.userMeta)) h[`x-oss-meta-${k}`] = v;
  return h;
}

async function readAll(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseXml(body: Buffer): Record<string, unknown> {
  try {
    return xmlIn.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  }
}

/** Whether an unsigned request may go ahead: reads where the ACL is public-read, writes where it is public-read-write. */
function anonymousAllowed(store: OssStore, method: string, bucket: string | undefined, key: string | undefined): boolean {
  if (!bucket || !store.hasBucket(bucket)) return false;
  const acl = store.effectiveAcl(bucket, key);
  const read = method === 'GET' || method === 'HEAD';
  if (read) return acl === 'public-read' || acl === 'public-read-write';
  // Writes to objects only: a bucket's own settings stay its owner's.
  return key !== undefined && acl === 'public-read-write';
}

export function ossApi(o: OssApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { store } = o;
  const endpoint = `oss-${o.region}.aliyuncs.com`;
  const send = (res: ServerResponse, requestId: string, status: number, headers: Record<string, string>, body?: string | Buffer) => {
    res.writeHead(status, { 'x-oss-request-id': requestId, server: 'AliyunOSS', date: new Date().toUTCString(), ...headers });
    res.end(body);
  };
  const sendXml = (res: ServerResponse, requestId: string, root: string, body: unknown, status = 200) =>
    send(res, requestId, status, { 'content-type': 'application/xml' }, xmlDocument(root, body));
  // A function's write names its invocation (fc-local's agents add the header): the trace's parent.
  const fire = (req: IncomingMessage, bucket: string, key: string, eventName: string, size: number, etag: string) => {
    const parent = req.headers[TRACE_PARENT_HEADER];
    o.onEvent?.({ bucket, key, eventName, size, etag: etag.replace(/"/g, ''), ...(typeof parent === 'string' && parent ? { parent } : {}) });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://oss');
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    const { bucket, key } = targetOf(req);
    // Names first: a key that would leave its bucket is refused whoever asks.
    if (bucket) checkBucket(bucket);
    if (key !== undefined) checkKey(key);
    // A form upload (PostObject) carries its signature in the form, checked with its policy.
    if (method === 'POST' && bucket && key === undefined && /^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
      return formUpload(req, res, requestId, bucket);
    }
    if (o.keys) {
      const resource = `/${bucket ? `${bucket}/` : ''}${key ?? ''}`;
      const signed = { method, headers: req.headers, resource, query: q };
      // Unsigned requests pass where the ACL lets anyone in; everything else is signed.
      const anonymous = !isSigned(signed) && !q.has('acl') && anonymousAllowed(store, method, bucket, key);
      if (!anonymous) verifyOss(signed, o.keys);
    }
    if (!bucket) {
      if (method !== 'GET') throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      const buckets = store.buckets().map((b) => ({
        CreationDate: iso(b.created),
        ExtranetEndpoint: endpoint,
        IntranetEndpoint: `oss-${o.region}-internal.aliyuncs.com`,
        Location: `oss-${o.region}`,
        Name: b.name,
        Region: o.region,
        StorageClass: 'Standard',
      }));
      return sendXml(res, requestId, 'ListAllMyBucketsResult', { Owner: OWNER, Buckets: { Bucket: buckets } });
    }
    if (key === undefined) return bucketOp(req, res, requestId, method, bucket, q);
    return objectOp(req, res, requestId, method, bucket, key, q);
  };

  const formUpload = async (req: IncomingMessage, res: ServerResponse, requestId: string, bucket: string) => {
    store.requireBucket(bucket);
    const r = await postObject(req, {
      store,
      bucket,
      ...(o.keys ? { keys: o.keys } : {}),
      anonymousWrite: store.bucketAcl(bucket) === 'public-read-write',
      // The form's fields name the object's headers as a PutObject's request headers do.
      optionsOf: (get, names, key) => optionsFrom(get, names, key, typeOfKey),
    });
    fire(req, bucket, r.key, 'ObjectCreated:PostObject', r.meta.size, r.meta.etag);
    if (r.redirect) return send(res, requestId, 303, { location: r.redirect, etag: r.meta.etag });
    if (r.status === 201) {
      return send(res, requestId, 201, { 'content-type': 'application/xml', etag: r.meta.etag }, xmlDocument('PostResponse', { Bucket: bucket, Location: `http://${bucket}.${endpoint}/${encodeURIComponent(r.key).replace(/%2F/g, '/')}`, Key: r.key, ETag: r.meta.etag }));
    }
    return send(res, requestId, r.status, { etag: r.meta.etag });
  };

  const bucketOp = async (req: IncomingMessage, res: ServerResponse, requestId: string, method: string, bucket: string, q: URLSearchParams) => {
    if (method === 'PUT' && q.has('acl')) {
      store.setBucketAcl(bucket, bucketAclOf(req, true)!);
      return send(res, requestId, 200, {});
    }
    if (method === 'PUT') {
      const acl = bucketAclOf(req, false);
      store.createBucket(bucket);
      if (acl) store.setBucketAcl(bucket, acl);
      return send(res, requestId, 200, { location: `/${bucket}` });
    }
    if (method === 'DELETE') {
      store.deleteBucket(bucket);
      return send(res, requestId, 204, {});
    }
    store.requireBucket(bucket);
    if (method === 'GET' && q.has('acl')) return sendXml(res, requestId, 'AccessControlPolicy', { Owner: OWNER, AccessControlList: { Grant: store.bucketAcl(bucket) } });
    if (method === 'GET' && q.has('bucketInfo')) {
      const created = store.buckets().find((b) => b.name === bucket)!.created;
      return sendXml(res, requestId, 'BucketInfo', {
        Bucket: { CreationDate: iso(created), ExtranetEndpoint: endpoint, IntranetEndpoint: `oss-${o.region}-internal.aliyuncs.com`, Location: `oss-${o.region}`, Name: bucket, StorageClass: 'Standard', Owner: OWNER, AccessControlList: { Grant: store.bucketAcl(bucket) } },
      });
    }
    if (method === 'GET' && q.has('uploads')) {
      const uploads = store.uploads(bucket).filter((u) => !q.get('prefix') || u.key.startsWith(q.get('prefix')!));
      return sendXml(res, requestId, 'ListMultipartUploadsResult', {
        Bucket: bucket, KeyMarker: '', UploadIdMarker: '', NextKeyMarker: '', NextUploadIdMarker: '', Delimiter: '', Prefix: q.get('prefix') ?? '', MaxUploads: 1000, IsTruncated: false,
        Upload: uploads.map((u) => ({ Key: u.key, UploadId: u.uploadId, StorageClass: 'Standard', Initiated: u.initiated })),
      });
    }
    if (method === 'POST' && q.has('delete')) {
      const doc = parseXml(await readAll(req)).Delete as { Quiet?: string; Object?: { Key: string }[] } | undefined;
      const objects = doc?.Object ?? [];
      if (!objects.length || objects.length > 1000) throw new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
      const deleted: { Key: string }[] = [];
      for (const obj of objects) {
        const k = String(obj.Key);
        if (store.delete(bucket, k)) fire(req, bucket, k, 'ObjectRemoved:DeleteObjects', 0, '');
        deleted.push({ Key: k });
      }
      return sendXml(res, requestId, 'DeleteResult', doc?.Quiet === 'true' ? {} : { Deleted: deleted });
    }
    if (method === 'GET') {
      const v2 = q.get('list-type') === '2';
      const urlEncoding = q.get('encoding-type') === 'url';
      const enc = encoded(urlEncoding);
      const maxKeys = Number(q.get('max-keys') ?? 100);
      if (!Number.isInteger(maxKeys) || maxKeys < 0 || maxKeys > 1000) throw new OssError(400, 'InvalidArgument', 'Argument max-keys must be an integer between 0 and 1000.');
      const prefix = q.get('prefix') ?? '';
      const delimiter = q.get('delimiter') ?? '';
      const token = q.get('continuation-token');
      const after = v2 ? (token ? Buffer.from(token, 'base64').toString('utf8') : (q.get('start-after') ?? undefined)) : (q.get('marker') ?? undefined);
      const r = store.list(bucket, { prefix, delimiter, after: after || undefined, maxKeys });
      const contents = r.objects.map((m) => ({
        Key: enc(m.key),
        LastModified: iso(m.lastModified),
        ETag: m.etag,
        Type: m.type,
        Size: m.size,
        StorageClass: m.storageClass,
        ...(!v2 || q.get('fetch-owner') === 'true' ? { Owner: OWNER } : {}),
      }));
      const common = r.prefixes.map((p) => ({ Prefix: enc(p) }));
      if (v2) {
        return sendXml(res, requestId, 'ListBucketResult', {
          Name: bucket, Prefix: enc(prefix), MaxKeys: maxKeys, Delimiter: enc(delimiter), ...(urlEncoding ? { EncodingType: 'url' } : {}), IsTruncated: r.truncated,
          ...(q.get('start-after') ? { StartAfter: enc(q.get('start-after')!) } : {}),
          ...(token ? { ContinuationToken: token } : {}),
          ...(r.truncated && r.next ? { NextContinuationToken: Buffer.from(r.next).toString('base64') } : {}),
          KeyCount: contents.length + common.length, Contents: contents, CommonPrefixes: common,
        });
      }
      return sendXml(res, requestId, 'ListBucketResult', {
        Name: bucket, Prefix: enc(prefix), Marker: enc(after ?? ''), MaxKeys: maxKeys, Delimiter: enc(delimiter), ...(urlEncoding ? { EncodingType: 'url' } : {}), IsTruncated: r.truncated,
        ...(r.truncated && r.next ? { NextMarker: enc(r.next) } : {}), Contents: contents, CommonPrefixes: common,
      });
    }
    throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  };

  const objectOp = async (req: IncomingMessage, res: ServerResponse, requestId: string, method: string, bucket: string, key: string, q: URLSearchParams) => {
    store.requireBucket(bucket);
    const uploadId = q.get('uploadId');
    if (method === 'PUT' && uploadId) {
      const partNumber = Number(q.get('partNumber'));
      const copySource = req.headers['x-oss-copy-source'] as string | undefined;
      if (copySource) {
        // UploadPartCopy: a part from (a range of) another object.
        const from = sourceOf(copySource);
        const src = store.head(from.bucket, from.key);
        const range = rangeOf(req.headers['x-oss-copy-source-range'] as string | undefined, src.size);
        if (range === 'unsatisfiable') throw new OssError(416, 'InvalidRange', 'The requested range cannot be satisfied.');
        const etag = await store.putPart(uploadId, partNumber, store.read(from.bucket, from.key, range));
        // The ETag in the head too: SDKs read it there.
        return send(res, requestId, 200, { 'content-type': 'application/xml', etag }, xmlDocument('CopyPartResult', { LastModified: iso(new Date()), ETag: etag }));
      }
      const etag = await store.putPart(uploadId, partNumber, req);
      return send(res, requestId, 200, { etag });
    }
    if (method === 'PUT' && q.has('acl')) {
      const acl = String(req.headers['x-oss-object-acl'] ?? '');
      if (!ACLS.has(acl)) throw new OssError(400, 'InvalidArgument', 'no such object access control exists');
      store.updateMeta(bucket, key, { acl });
      return send(res, requestId, 200, {});
    }
    if (method === 'PUT') {
      const source = req.headers['x-oss-copy-source'] as string | undefined;
      if (source) {
        const from = sourceOf(source);
        const replace = String(req.headers['x-oss-metadata-directive'] ?? 'COPY').toUpperCase() === 'REPLACE';
        const m = await store.copy(from, { bucket, key }, replace ? putOptionsOf(req, key, () => store.head(from.bucket, from.key).contentType) : undefined);
        fire(req, bucket, key, 'ObjectCreated:CopyObject', m.size, m.etag);
        return sendXml(res, requestId, 'CopyObjectResult', { ETag: m.etag, LastModified: iso(m.lastModified) });
      }
      if (req.headers['x-oss-forbid-overwrite'] === 'true' && objectExists(bucket, key)) {
        throw new OssError(409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.');
      }
      // A small body is read whole and written at once; a large one streams to its temp file.
      const length = Number(req.headers['content-length']);
      const body = length >= 0 && length <= 1024 * 1024 ? await readAll(req) : req;
      const m = await store.put(bucket, key, body, putOptionsOf(req, key, typeOfKey), req.headers['content-md5'] as string | undefined);
      fire(req, bucket, key, 'ObjectCreated:PutObject', m.size, m.etag);
      return send(res, requestId, 200, { etag: m.etag, 'content-md5': Buffer.from(m.etag.replace(/"/g, ''), 'hex').toString('base64') });
    }
    if (method === 'POST' && q.has('append')) {
      const position = Number(q.get('position') ?? 'NaN');
      if (!Number.isInteger(position) || position < 0) throw new OssError(400, 'InvalidArgument', 'Position is not valid.');
      const m = store.append(bucket, key, await readAll(req, 64 * 1024 * 1024), position, putOptionsOf(req, key, typeOfKey));
      fire(req, bucket, key, 'ObjectCreated:AppendObject', m.size, m.etag);
      return send(res, requestId, 200, { etag: m.etag, 'x-oss-next-append-position': String(m.size) });
    }
    if (method === 'POST' && q.has('uploads')) {
      const id = store.initiate(bucket, key, putOptionsOf(req, key, typeOfKey));
      return sendXml(res, requestId, 'InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: id });
    }
    if (method === 'POST' && uploadId) {
      const doc = parseXml(await readAll(req)).CompleteMultipartUpload as { Part?: { PartNumber: string; ETag: string }[] } | undefined;
      const listed = (doc?.Part ?? []).map((p) => ({ partNumber: Number(p.PartNumber), etag: String(p.ETag) }));
      const m = await store.complete(uploadId, listed);
      fire(req, bucket, key, 'ObjectCreated:CompleteMultipartUpload', m.size, m.etag);
      return sendXml(res, requestId, 'CompleteMultipartUploadResult', { Location: `http://${bucket}.${endpoint}/${encodeURIComponent(key).replace(/%2F/g, '/')}`, Bucket: bucket, Key: key, ETag: m.etag });
    }
    if (method === 'DELETE' && uploadId) {
      store.abort(uploadId);
      return send(res, requestId, 204, {});
    }
    if (method === 'DELETE') {
      if (store.delete(bucket, key)) fire(req, bucket, key, 'ObjectRemoved:DeleteObject', 0, '');
      return send(res, requestId, 204, {});
    }
    if (method === 'GET' && uploadId) {
      const parts = store.parts(uploadId);
      return sendXml(res, requestId, 'ListPartsResult', {
        Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: 0, NextPartNumberMarker: parts.at(-1)?.partNumber ?? 0, MaxParts: 1000, IsTruncated: false,
        Part: parts.map((p) => ({ PartNumber: p.partNumber, LastModified: iso(p.lastModified), ETag: p.etag, Size: p.size })),
      });
    }
    if (method !== 'GET' && method !== 'HEAD') throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    if (q.has('x-oss-process')) throw new OssError(501, 'NotImplemented', 'fc-local does not emulate OSS image and document processing (x-oss-process): process the object in your function, or against the real OSS.');
    const m = store.head(bucket, key);
    if (q.has('acl')) return sendXml(res, requestId, 'AccessControlPolicy', { Owner: OWNER, AccessControlList: { Grant: m.acl } });
    if (q.has('objectMeta')) return send(res, requestId, 200, { etag: m.etag, 'content-length': String(m.size), 'last-modified': m.lastModified.toUTCString() });
    const headers = objectHeaders(m);
    const notModified = conditional(req, m);
    if (notModified) return send(res, requestId, notModified, notModified === 304 ? { etag: m.etag, 'last-modified': headers['last-modified']! } : { 'content-type': 'application/xml' }, notModified === 412 ? errorBody(new OssError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.'), requestId) : undefined);
    // response-* parameters override what a GET answers with, as OSS does.
    for (const [param, h] of [['response-content-type', 'content-type'], ['response-content-language', 'content-language'], ['response-expires', 'expires'], ['response-cache-control', 'cache-control'], ['response-content-disposition', 'content-disposition'], ['response-content-encoding', 'content-encoding']] as const) {
      const v = q.get(param);
      if (v !== null) headers[h] = v;
    }
    const range = rangeOf(req.headers.range, m.size);
    if (range === 'unsatisfiable') throw new OssError(416, 'InvalidRange', 'The requested range cannot be satisfied.', { ActualObjectSize: String(m.size) });
    if (method === 'HEAD') return send(res, requestId, 200, { ...headers, 'content-length': String(m.size) });
    if (m.key.endsWith('/')) return send(res, requestId, 200, { ...headers, 'content-length': '0' });
    if (range) {
      res.writeHead(206, { 'x-oss-request-id': requestId, server: 'AliyunOSS', ...headers, 'content-length': String(range.end - range.start + 1), 'content-range': `bytes ${range.start}-${range.end}/${m.size}` });
      store.read(bucket, key, range).pipe(res);
      return;
    }
    res.writeHead(200, { 'x-oss-request-id': requestId, server: 'AliyunOSS', ...headers, 'content-length': String(m.size) });
    store.read(bucket, key).pipe(res);
  };

  const objectExists = (bucket: string, key: string) => {
    try {
      store.head(bucket, key);
      return true;
    } catch {
      return false;
    }
  };
  const errorBody = (err: OssError, requestId: string) => errorXml(err, requestId, 'localhost');

  return (req, res) => {
    const requestId = newRequestId();
    // Browsers (form uploads, presigned URLs from a page) are let in from any origin: a local OSS
    // has no CORS rules to set up, where OSS would need PutBucketCors first.
    const origin = req.headers.origin;
    if (origin) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-expose-headers', 'ETag, x-oss-request-id, x-oss-next-append-position, x-oss-hash-crc64ecma');
      res.setHeader('vary', 'Origin');
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
        res.writeHead(200, {
          'x-oss-request-id': requestId,
          'access-control-allow-methods': 'GET, PUT, POST, DELETE, HEAD',
          'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? ''),
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
    }
    handle(req, res, requestId).catch((err: unknown) => {
      const e = err instanceof OssError ? err : new OssError(500, 'InternalError', `We encountered an internal error: ${(err as Error).message}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // An upload cut short: the client is gone, there is no one to answer.
      if (req.destroyed && !req.complete && req.method === 'PUT') return;
      res.writeHead(e.status, { 'x-oss-request-id': requestId, 'content-type': 'application/xml', server: 'AliyunOSS' });
      res.end(req.method === 'HEAD' ? undefined : errorXml(e, requestId, req.headers.host ?? 'localhost'));
    });
  };
}

/** x-oss-acl of PutBucket / PutBucketAcl (a bucket has no `default`). */
function bucketAclOf(req: IncomingMessage, required: boolean): string | undefined {
  const acl = req.headers['x-oss-acl'] as string | undefined;
  if (acl === undefined && !required) return undefined;
  if (!acl || acl === 'default' || !ACLS.has(acl)) throw new OssError(400, 'InvalidArgument', 'no such bucket access control exists');
  return acl;
}

/** `x-oss-copy-source: /<bucket>/<key>` (URL-encoded), its names checked like any others. */
function sourceOf(header: string): { bucket: string; key: string } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(header.replace(/^\//, ''));
  } catch {
    throw new OssError(400, 'InvalidArgument', 'Copy Source is not valid.');
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0) throw new OssError(400, 'InvalidArgument', 'Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.');
  return { bucket: checkBucket(decoded.slice(0, slash)), key: checkKey(decoded.slice(slash + 1)) };
}

/** 304 / 412 for If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since; 0 when it serves. */
function conditional(req: IncomingMessage, m: ObjectMeta): 0 | 304 | 412 {
  const h = req.headers;
  const etag = m.etag;
  const same = (v: string) => v.split(',').some((t) => t.trim() === '*' || t.trim().replace(/"/g, '').toUpperCase() === etag.replace(/"/g, ''));
  const modified = Math.floor(m.lastModified.getTime() / 1000) * 1000;
  if (h['if-match'] && !same(h['if-match'])) return 412;
  if (h['if-unmodified-since'] && modified > Date.parse(h['if-unmodified-since'])) return 412;
  if (h['if-none-match'] && same(h['if-none-match'])) return 304;
  if (h['if-modified-since'] && modified <= Date.parse(h['if-modified-since'])) return 304;
  return 0;
}

/** A single `bytes=a-b` range within the object; malformed ranges are ignored (the whole object), as OSS does. */
function rangeOf(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}
