import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import busboy from 'busboy';
import { OssError } from './errors.js';
import { checkKey } from './names.js';
import { verifyPostPolicy, type OssKeys } from './signature.js';
import { typeOfKey, type ObjectMeta, type OssStore, type PutOptions } from './store.js';

// PostObject: an object uploaded with an HTML form (multipart/form-data) to the bucket's URL, as
// browsers and mini-programs do with a policy the server signed. The fields before `file` carry
// the key, the policy, its signature and the object's headers; the policy's expiration and
// conditions are checked before a byte of the file is stored.

/** OSS's limit for a form upload. */
const MAX_POST_OBJECT = 5 * 1024 ** 3;

export interface PostObjectResult {
  key: string;
  meta: ObjectMeta;
  /** success_action_status: 200, 201 (with an XML body) or 204 (the default). */
  status: 200 | 201 | 204;
  /** success_action_redirect, with bucket, key and etag added to its query. */
  redirect?: string;
}

interface Policy {
  expiration?: string;
  conditions?: unknown[];
}

const policyDenied = (why: string) => new OssError(403, 'AccessDenied', `Invalid according to Policy: ${why}`);

function parsePolicy(encoded: string): Policy {
  try {
    const policy = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as Policy;
    if (typeof policy !== 'object' || policy === null) throw new Error('not an object');
    return policy;
  } catch {
    throw new OssError(400, 'InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
  }
}

/** The policy's conditions on form fields (content-length-range is checked while the file streams). */
function checkConditions(policy: Policy, value: (name: string) => string | undefined): { min: number; max: number } {
  if (!policy.expiration || !(Date.parse(policy.expiration) > Date.now())) throw policyDenied('Policy expired.');
  let min = 0;
  let max = MAX_POST_OBJECT;
  for (const c of policy.conditions ?? []) {
    const text = JSON.stringify(c);
    if (Array.isArray(c)) {
      const [op, name, arg] = c as [string, unknown, unknown];
      const op_ = String(op).toLowerCase();
      if (op_ === 'content-length-range') {
        min = Number(name);
        max = Number(arg);
        continue;
      }
      const field = String(name).replace(/^\$/, '').toLowerCase();
      const v = value(field) ?? '';
      const ok =
        op_ === 'eq' ? v === String(arg)
        : op_ === 'starts-with' ? v.startsWith(String(arg))
        : op_ === 'in' ? Array.isArray(arg) && arg.map(String).includes(v)
        : op_ === 'not-in' ? Array.isArray(arg) && !arg.map(String).includes(v)
        : false;
      if (!ok) throw policyDenied(`Policy Condition failed: ${text}`);
    } else if (c && typeof c === 'object') {
      for (const [name, want] of Object.entries(c)) if ((value(name.toLowerCase()) ?? '') !== String(want)) throw policyDenied(`Policy Condition failed: ${text}`);
    }
  }
  return { min, max };
}

/** Counts the file's bytes: past `max` it fails at once, short of `min` at the end (so nothing is stored). */
function sizeGuard(min: number, max: number): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > max) return done(new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.'));
      done(null, chunk);
    },
    flush(done) {
      done(size < min ? new OssError(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.') : null);
    },
  });
}

export interface PostObjectContext {
  store: OssStore;
  bucket: string;
  /** Undefined under --no-auth. */
  keys?: OssKeys;
  /** The bucket lets anyone write (public-read-write): a form needs no signature. */
  anonymousWrite: boolean;
  /** The object's options from the form's fields (lowercase names). */
  optionsOf: (field: (name: string) => string | undefined, names: string[], key: string) => PutOptions;
}

export function postObject(req: IncomingMessage, ctx: PostObjectContext): Promise<PostObjectResult> {
  return new Promise((resolve, reject) => {
    let form: busboy.Busboy;
    try {
      form = busboy({ headers: req.headers, limits: { files: 1, fields: 100, fieldSize: 64 * 1024 } });
    } catch {
      reject(new OssError(400, 'InvalidArgument', 'A form upload is multipart/form-data with a file field.'));
      return;
    }
    const fields = new Map<string, string>();
    const value = (name: string) => fields.get(name);
    let settled = false;
    let sawFile = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      req.unpipe(form);
      req.resume();
      reject(err);
    };
    form.on('field', (name, v) => fields.set(name.toLowerCase(), v));
    form.on('file', (name, file: Readable, info) => {
      if (name.toLowerCase() !== 'file' || sawFile) {
        file.resume();
        return;
      }
      sawFile = true;
      try {
        const rawKey = value('key');
        if (!rawKey) throw new OssError(400, 'InvalidArgument', 'The form has no key field (before the file field).');
        const key = checkKey(rawKey.replace(/\$\{filename\}/g, info.filename ?? ''));
        fields.set('key', key);
        fields.set('bucket', ctx.bucket);
        const policy = value('policy');
        let limits = { min: 0, max: MAX_POST_OBJECT };
        if (policy) limits = checkConditions(parsePolicy(policy), value);
        if (ctx.keys && !ctx.anonymousWrite) {
          if (!policy) throw new OssError(403, 'AccessDenied', 'The form upload has no policy: a signed form carries policy and Signature.');
          verifyPostPolicy(value, policy, ctx.keys);
        }
        const opts = ctx.optionsOf(value, [...fields.keys()], key);
        if (!value('content-type') && info.mimeType && info.mimeType !== 'application/octet-stream') opts.contentType = info.mimeType;
        opts.contentType ??= typeOfKey(key);
        const guard = sizeGuard(limits.min, limits.max);
        file.on('error', (e) => guard.destroy(e));
        file.pipe(guard);
        ctx.store
          .put(ctx.bucket, key, guard, opts)
          .then((meta) => {
            const wanted = Number(value('success_action_status'));
            const status = wanted === 200 || wanted === 201 ? wanted : 204;
            const redirect = value('success_action_redirect');
            settled = true;
            resolve({ key, meta, status, ...(redirect ? { redirect: withQuery(redirect, { bucket: ctx.bucket, key, etag: meta.etag.replace(/"/g, '') }) } : {}) });
          })
          .catch(fail);
      } catch (err) {
        file.resume();
        fail(err);
      }
    });
    form.on('error', (err) => fail(new OssError(400, 'InvalidArgument', `The form is not well-formed multipart/form-data: ${(err as Error).message}`)));
    form.on('close', () => {
      if (!sawFile) fail(new OssError(400, 'InvalidArgument', 'The form has no file field (it comes last, after the other fields).'));
    });
    req.pipe(form);
  });
}

function withQuery(url: string, add: Record<string, string>): string {
  try {
    const u = new URL(url);
    for (const [k, v] of Object.entries(add)) u.searchParams.set(k, v);
    return u.toString();
  } catch {
    throw new OssError(400, 'InvalidArgument', `success_action_redirect ${url} is not a URL.`);
  }
}
