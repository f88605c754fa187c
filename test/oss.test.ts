import { execa } from 'execa';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OSS from 'ali-oss';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/runtime/instance-io.js';
import { BACKENDS } from './helpers/backends.js';
import { fixture } from './helpers/cli.js';
import { startServer, TEST_CREDENTIALS, type RunningServer } from './helpers/server.js';
import { scaled } from './helpers/time-scale.js';

// The local OSS, driven by the unmodified ali-oss SDK (the one FC ships): buckets are folders,
// objects files; OSS's operations, XML and errors; V1 signatures with fc-local's credentials; and
// every write or delete fires the OSS triggers, with OSS's event name. The function reads and
// writes the same OSS with the credentials FC hands it (the canonical thumbnail app).

// A newer ali-oss from npm, unchanged, for what 6.19 lacks: V4 signatures (header, URL and form).
const OSSv4 = createRequire(import.meta.url)('ali-oss-6.23') as typeof OSS;

let srv: RunningServer;
let dir: string;
let ossPort: number;
const ossDir = () => path.join(dir, '.fc-local', 'oss');
const client = (over: Partial<OSS.Options> = {}) =>
  new OSS({ endpoint: `http://127.0.0.1:${ossPort}`, accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, accessKeySecret: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET, bucket: 'photos', ...over });

/** The OSS writes the function's last invocation made, as its trace shows them (once its record is in). */
async function writesOfLast(base: string, fn: string): Promise<{ key: string }[]> {
  for (;;) {
    const [last] = (await (await fetch(`${base}/_fc-local/api/invocations?function=${fn}&limit=1`)).json()) as { requestId: string }[];
    if (last) return ((await (await fetch(`${base}/_fc-local/api/invocations/${last.requestId}/chain`)).json()) as { writes: { key: string }[] }).writes;
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-oss-'));
  cpSync(fixture('oss'), dir, { recursive: true });
  ossPort = await freePort();
  const tpl = path.join(dir, 'fc.yml');
  // Signatures are checked (auth on): the SDK outside and the function inside sign with fc-local's keys.
  srv = await startServer(['-t', tpl, '--backend', 'process', '--oss-port', String(ossPort)]);
});
afterAll(async () => {
  await srv?.stop();
});

describe('the local OSS', () => {
  it('names its endpoint in the banner and the workbench API (the key id, never the secret)', async () => {
    expect(srv.output()).toContain(`oss          http://127.0.0.1:${ossPort} (path style: /<bucket>/<key>), or http://<bucket>.oss-cn-hangzhou.localhost:${srv.port}`);
    const api = (await (await fetch(`${srv.base}/_fc-local/api`)).json()) as { oss: Record<string, unknown> };
    expect(api.oss).toMatchObject({ endpoint: `http://127.0.0.1:${ossPort}`, region: 'cn-hangzhou', accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, buckets: ['photos'] });
    expect(JSON.stringify(api)).not.toContain(TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET);
  });

  it('puts, gets, heads and ranges an object, which is a file of the bucket folder', async () => {
    const c = client();
    const put = await c.put('docs/hello.txt', Buffer.from('hello world'), { headers: { 'x-oss-meta-owner': 'me' } });
    expect(put.res.status).toBe(200);
    expect(readFileSync(path.join(ossDir(), 'photos', 'docs', 'hello.txt'), 'utf8')).toBe('hello world');
    const got = await c.get('docs/hello.txt');
    expect(got.content.toString()).toBe('hello world');
    const headers = got.res.headers as Record<string, string>;
    expect(headers['content-type']).toBe('text/plain');
    expect(headers.etag).toBe('"5EB63BBBE01EEED093CB22BB8F5ACDC3"');
    const head = await c.head('docs/hello.txt');
    expect(head.meta).toEqual({ owner: 'me' });
    expect((head.res.headers as Record<string, string>)['content-length']).toBe('11');
    const range = await c.get('docs/hello.txt', { headers: { Range: 'bytes=6-10' } });
    expect(range.res.status).toBe(206);
    expect(range.content.toString()).toBe('world');
    // Metadata lives beside the bucket folder, never in it.
    expect(readdirSync(path.join(ossDir(), 'photos', 'docs'))).toEqual(['hello.txt']);
  });

  it('lists with a delimiter and pages through keys (V1 marker and V2 continuation token)', async () => {
    const c = client();
    for (const k of ['list/a.txt', 'list/b.txt', 'list/c/1.txt', 'list/c/2.txt', 'list/d.txt']) await c.put(k, Buffer.from(k));
    const top = await c.list({ prefix: 'list/', delimiter: '/', 'max-keys': 10 }, {});
    expect(top.objects.map((o) => o.name)).toEqual(['list/a.txt', 'list/b.txt', 'list/d.txt']);
    expect(top.prefixes).toEqual(['list/c/']);
    const page1 = await c.list({ prefix: 'list/', 'max-keys': 2 }, {});
    expect(page1.objects.map((o) => o.name)).toEqual(['list/a.txt', 'list/b.txt']);
    expect(page1.isTruncated).toBe(true);
    const page2 = await c.list({ prefix: 'list/', 'max-keys': 2, marker: page1.nextMarker! }, {});
    expect(page2.objects.map((o) => o.name)).toEqual(['list/c/1.txt', 'list/c/2.txt']);
    const v2a = await c.listV2({ prefix: 'list/', 'max-keys': '3' }, {});
    expect(v2a.objects.map((o) => o.name)).toEqual(['list/a.txt', 'list/b.txt', 'list/c/1.txt']);
    const v2b = await c.listV2({ prefix: 'list/', 'max-keys': '3', 'continuation-token': v2a.nextContinuationToken! }, {});
    expect(v2b.objects.map((o) => o.name)).toEqual(['list/c/2.txt', 'list/d.txt']);
    expect(v2b.isTruncated).toBe(false);
  });

  it('uploads in 3 parts (multipart) and copies, with OSS multipart ETag', async () => {
    const c = client();
    const body = Buffer.concat([Buffer.alloc(100 * 1024, 'a'), Buffer.alloc(100 * 1024, 'b'), Buffer.alloc(50 * 1024, 'c')]);
    const file = path.join(dir, 'big.bin');
    writeFileSync(file, body);
    const parts: number[] = [];
    await c.multipartUpload('big/file.bin', file, { partSize: 100 * 1024, progress: async (_p: number, cp: { doneParts?: unknown[] }) => void parts.push(cp?.doneParts?.length ?? 0) });
    expect(Math.max(...parts)).toBe(3);
    expect(readFileSync(path.join(ossDir(), 'photos', 'big', 'file.bin')).equals(body)).toBe(true);
    const head = await c.head('big/file.bin');
    expect((head.res.headers as Record<string, string>).etag).toMatch(/^"[0-9A-F]{32}-3"$/);
    await c.copy('big/copy.bin', 'big/file.bin');
    expect((await c.get('big/copy.bin')).content.equals(body)).toBe(true);
    // UploadPartCopy: parts taken from ranges of an existing object.
    const { uploadId } = await c.initMultipartUpload('big/ranges.bin');
    const p1 = await c.uploadPartCopy('big/ranges.bin', uploadId, 1, `0-${100 * 1024 - 1}`, { sourceKey: 'big/file.bin', sourceBucketName: 'photos' }, {});
    const p2 = await c.uploadPartCopy('big/ranges.bin', uploadId, 2, `${200 * 1024}-${250 * 1024 - 1}`, { sourceKey: 'big/file.bin', sourceBucketName: 'photos' }, {});
    await c.completeMultipartUpload('big/ranges.bin', uploadId, [{ number: 1, etag: p1.etag }, { number: 2, etag: p2.etag }]);
    expect((await c.get('big/ranges.bin')).content.equals(Buffer.concat([body.subarray(0, 100 * 1024), body.subarray(200 * 1024)]))).toBe(true);
  });

  it('appends to an Appendable object at its length, and refuses a wrong position or a Normal object', async () => {
    const c = client();
    const first = await c.append('log/app.log', Buffer.from('line 1\n'));
    expect(first.nextAppendPosition).toBe('7');
    await c.append('log/app.log', Buffer.from('line 2\n'), { position: first.nextAppendPosition });
    expect((await c.get('log/app.log')).content.toString()).toBe('line 1\nline 2\n');
    expect(((await c.head('log/app.log')).res.headers as Record<string, string>)['x-oss-object-type']).toBe('Appendable');
    const wrong = (await c.append('log/app.log', Buffer.from('x'), { position: '3' }).catch((e: unknown) => e)) as { status: number; code: string };
    expect([wrong.status, wrong.code]).toEqual([409, 'PositionNotEqualToLength']);
    await c.put('log/normal.txt', Buffer.from('n'));
    const normal = (await c.append('log/normal.txt', Buffer.from('x'), { position: '1' }).catch((e: unknown) => e)) as { code: string };
    expect(normal.code).toBe('ObjectNotAppendable');
  });

  it('answers a presigned GET (curl), and refuses a wrong signature with OSS XML 403', async () => {
    const c = client();
    await c.put('signed.txt', Buffer.from('presigned'));
    // Presigned on the bucket's own name (curl resolves *.localhost to this machine).
    const url = client({ endpoint: `http://oss-cn-hangzhou.localhost:${srv.port}` }).signatureUrl('signed.txt', { expires: 600 });
    expect(url).toMatch(new RegExp(`^http://photos\\.oss-cn-hangzhou\\.localhost:${srv.port}/signed\\.txt\\?OSSAccessKeyId=`));
    const curl = await execa('curl', ['-s', '-i', url], { reject: false });
    expect(curl.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(curl.stdout).toMatch(/presigned$/);
    const expired = await execa('curl', ['-s', client({ endpoint: `http://oss-cn-hangzhou.localhost:${srv.port}` }).signatureUrl('signed.txt', { expires: -10 })], { reject: false });
    expect(expired.stdout).toMatch(/<Code>AccessDenied<\/Code>/);
    const wrong = client({ accessKeySecret: 'not-the-secret' });
    const err = (await wrong.get('signed.txt').catch((e: unknown) => e)) as { status: number; code: string; requestId: string };
    expect(err.status).toBe(403);
    expect(err.code).toBe('SignatureDoesNotMatch');
    expect(err.requestId).toMatch(/^[0-9A-F]{24}$/);
    const anonymous = await fetch(`http://127.0.0.1:${ossPort}/photos/signed.txt`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toMatch(/<Code>AccessDenied<\/Code>[^]*<RequestId>/);
  });

  it('lets anyone read a public-read object, and only that one', async () => {
    const c = client();
    await c.put('public.txt', Buffer.from('for all'));
    await c.put('private.txt', Buffer.from('for me'));
    await c.putACL('public.txt', 'public-read');
    expect((await c.getACL('public.txt')).acl).toBe('public-read');
    const pub = await fetch(`http://127.0.0.1:${ossPort}/photos/public.txt`);
    expect(await pub.text()).toBe('for all');
    expect((await fetch(`http://127.0.0.1:${ossPort}/photos/private.txt`)).status).toBe(403);
  });

  it('checks V4 signatures (OSS4-HMAC-SHA256) in the header and in presigned URLs, from an unmodified ali-oss 6.23', async () => {
    const v4 = (over: Record<string, unknown> = {}) =>
      new OSSv4({ endpoint: `http://127.0.0.1:${ossPort}`, region: 'oss-cn-hangzhou', authorizationV4: true, accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, accessKeySecret: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET, bucket: 'photos', ...over } as OSS.Options);
    const c = v4();
    await c.put('v4/a b+c.txt', Buffer.from('four'), { headers: { 'x-oss-meta-sig': 'v4' } });
    expect((await c.get('v4/a b+c.txt')).content.toString()).toBe('four');
    expect((await c.head('v4/a b+c.txt')).meta).toEqual({ sig: 'v4' });
    expect((await c.list({ prefix: 'v4/', 'max-keys': 10 }, {})).objects.map((o) => o.name)).toEqual(['v4/a b+c.txt']);
    await c.putACL('v4/a b+c.txt', 'private');
    expect((await c.getACL('v4/a b+c.txt')).acl).toBe('private');
    const wrong = (await v4({ accessKeySecret: 'not-the-secret' }).get('v4/a b+c.txt').catch((e: unknown) => e)) as { status: number; code: string };
    expect([wrong.status, wrong.code]).toEqual([403, 'SignatureDoesNotMatch']);
    // Presigned on the bucket's own name, as for V1 above.
    const url = await (v4({ endpoint: `http://oss-cn-hangzhou.localhost:${srv.port}` }) as unknown as { signatureUrlV4: (m: string, exp: number, req: unknown, key: string) => Promise<string> }).signatureUrlV4('GET', 600, {}, 'v4/a b+c.txt');
    expect(url).toContain('x-oss-signature-version=OSS4-HMAC-SHA256');
    const curl = await execa('curl', ['-s', '-i', url], { reject: false });
    expect(curl.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(curl.stdout).toMatch(/four$/);
    const tampered = await execa('curl', ['-s', url.replace('x-oss-expires=600', 'x-oss-expires=6000')], { reject: false });
    expect(tampered.stdout).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
  });

  it("gives objects with the default ACL the bucket's: public-read lets anyone read, public-read-write write", async () => {
    const c = client({ bucket: 'shared' });
    await c.putBucket('shared');
    await c.put('doc.txt', Buffer.from('doc'));
    await c.put('secret.txt', Buffer.from('s'), { headers: { 'x-oss-object-acl': 'private' } });
    expect((await fetch(`http://127.0.0.1:${ossPort}/shared/doc.txt`)).status).toBe(403);
    await c.putBucketACL('shared', 'public-read');
    expect((await c.getBucketACL('shared')).acl).toBe('public-read');
    expect(await (await fetch(`http://127.0.0.1:${ossPort}/shared/doc.txt`)).text()).toBe('doc');
    expect((await fetch(`http://127.0.0.1:${ossPort}/shared/secret.txt`)).status).toBe(403);
    expect((await fetch(`http://127.0.0.1:${ossPort}/shared/new.txt`, { method: 'PUT', body: 'x' })).status).toBe(403);
    await c.putBucketACL('shared', 'public-read-write');
    expect((await fetch(`http://127.0.0.1:${ossPort}/shared/new.txt`, { method: 'PUT', body: 'anyone' })).status).toBe(200);
    expect((await c.get('new.txt')).content.toString()).toBe('anyone');
    // The bucket's own settings stay signed, whatever its ACL.
    expect((await fetch(`http://127.0.0.1:${ossPort}/shared?acl`, { method: 'PUT', headers: { 'x-oss-acl': 'private' } })).status).toBe(403);
    const info = (await c.getBucketInfo('shared')) as unknown as { bucket: { AccessControlList: { Grant: string } } };
    expect(info.bucket.AccessControlList.Grant).toBe('public-read-write');
    for (const k of ['doc.txt', 'secret.txt', 'new.txt']) await c.delete(k);
    await c.deleteBucket('shared');
  });

  it('takes form uploads (PostObject) signed with a policy, V1 and V4, and holds them to its conditions', async () => {
    const c = client();
    const expiration = new Date(Date.now() + 600_000).toISOString();
    const policy = { expiration, conditions: [['starts-with', '$key', 'forms/'], ['content-length-range', 1, 100], { bucket: 'photos' }] };
    const signed = c.calculatePostSignature(policy) as { OSSAccessKeyId: string; Signature: string; policy: string };
    const form = (fields: Record<string, string>, body: string, name = 'note.txt') => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      f.append('file', new Blob([body], { type: 'text/plain' }), name);
      return f;
    };
    const post = (f: FormData) => fetch(`http://127.0.0.1:${ossPort}/photos`, { method: 'POST', body: f });
    const ok = await post(form({ key: 'forms/${filename}', ...signed, success_action_status: '201', 'x-oss-meta-from': 'form' }, 'posted'));
    expect(ok.status).toBe(201);
    expect(await ok.text()).toMatch(/<PostResponse><Bucket>photos<\/Bucket>.*<Key>forms\/note\.txt<\/Key><ETag>"[0-9A-F]{32}"<\/ETag>/);
    expect((await c.get('forms/note.txt')).content.toString()).toBe('posted');
    expect((await c.head('forms/note.txt')).meta).toEqual({ from: 'form' });
    const outside = await post(form({ key: 'elsewhere.txt', ...signed }, 'x'));
    expect(outside.status).toBe(403);
    expect(await outside.text()).toMatch(/<Code>AccessDenied<\/Code>[^]*Policy Condition failed: \["starts-with","\$key","forms\/"\]/);
    const large = await post(form({ key: 'forms/large.txt', ...signed }, 'x'.repeat(101)));
    expect(await large.text()).toMatch(/<Code>EntityTooLarge<\/Code>/);
    expect(existsSync(path.join(ossDir(), 'photos', 'forms', 'large.txt'))).toBe(false);
    const forged = await post(form({ key: 'forms/forged.txt', ...signed, Signature: 'AAAA' }, 'x'));
    expect(await forged.text()).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
    // V4: the policy signed with the derived key (ali-oss 6.23's signPostObjectPolicyV4).
    const v4 = new OSSv4({ region: 'oss-cn-hangzhou', accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, accessKeySecret: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET, bucket: 'photos' } as OSS.Options) as unknown as { signPostObjectPolicyV4: (p: unknown, d: Date) => string };
    const now = new Date();
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const credential = `${TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID}/${stamp.slice(0, 8)}/cn-hangzhou/oss/aliyun_v4_request`;
    const v4Policy = { expiration, conditions: [{ bucket: 'photos' }, { 'x-oss-signature-version': 'OSS4-HMAC-SHA256' }, { 'x-oss-credential': credential }, { 'x-oss-date': stamp }] };
    const v4Fields = { key: 'forms/v4.txt', policy: Buffer.from(JSON.stringify(v4Policy)).toString('base64'), 'x-oss-signature-version': 'OSS4-HMAC-SHA256', 'x-oss-credential': credential, 'x-oss-date': stamp, 'x-oss-signature': v4.signPostObjectPolicyV4(v4Policy, now) };
    const v4ok = await post(form(v4Fields, 'v4 form'));
    expect(v4ok.status).toBe(204);
    expect((await c.get('forms/v4.txt')).content.toString()).toBe('v4 form');
    // A page on another origin may post: the preflight is answered and the ETag exposed.
    const preflight = await fetch(`http://127.0.0.1:${ossPort}/photos`, { method: 'OPTIONS', headers: { origin: 'http://app.localhost:3000', 'access-control-request-method': 'POST' } });
    expect([preflight.status, preflight.headers.get('access-control-allow-origin')]).toEqual([200, 'http://app.localhost:3000']);
    const cross = await fetch(`http://127.0.0.1:${ossPort}/photos`, { method: 'POST', body: form({ key: 'forms/cors.txt', ...signed }, 'cors'), headers: { origin: 'http://app.localhost:3000' } });
    expect(cross.headers.get('access-control-expose-headers')).toContain('ETag');
    // What is not emulated says so.
    const processed = (await c.get('forms/note.txt', { process: 'image/resize,w_100' }).catch((e: unknown) => e)) as { status: number; code: string };
    expect([processed.status, processed.code]).toEqual([501, 'NotImplemented']);
  });

  it('refuses bad names with OSS codes and writes nothing outside the bucket', async () => {
    for (const p of ['/photos/../escape.txt', '/photos/a/../../escape.txt', '/photos/x/./y', '/photos/%00nul', `/photos/${'k'.repeat(1024)}`]) {
      const r = await execa('curl', ['-s', '--path-as-is', '-X', 'PUT', '--data', 'x', `http://127.0.0.1:${ossPort}${p}`], { reject: false });
      expect(r.stdout, p).toMatch(/<Code>InvalidObjectName<\/Code>/);
    }
    const bad = await execa('curl', ['-s', '-X', 'PUT', `http://127.0.0.1:${ossPort}/Bad_Bucket`], { reject: false });
    expect(bad.stdout).toMatch(/<Code>InvalidBucketName<\/Code>/);
    expect(existsSync(path.join(ossDir(), 'escape.txt'))).toBe(false);
    expect(existsSync(path.join(dir, '.fc-local', 'escape.txt'))).toBe(false);
  });

  it('creates, lists and deletes buckets (409 while not empty)', async () => {
    const c = client({ bucket: 'scratch' });
    await c.putBucket('scratch');
    const listed = (await c.listBuckets({})) as unknown as { buckets: { name: string }[] };
    expect(listed.buckets.map((b) => b.name)).toContain('scratch');
    await c.put('x.txt', Buffer.from('x'));
    const full = (await c.deleteBucket('scratch').catch((e: unknown) => e)) as { status: number; code: string };
    expect([full.status, full.code]).toEqual([409, 'BucketNotEmpty']);
    await c.delete('x.txt');
    await c.deleteBucket('scratch');
    expect(existsSync(path.join(ossDir(), 'scratch'))).toBe(false);
  });
});

describe('OSS triggers from the local OSS', () => {
  it("runs the thumbnail app: an upload fires the function, which reads it and writes out/ with ali-oss built from the region (OSS's own host names) and its credentials", async () => {
    const c = client();
    const mark = srv.output().length;
    await c.put('in/a.png', Buffer.from('PNGDATA'));
    const line = await srv.waitFor(/THUMB (\S+) in\/a\.png (\d+) (\S+) -> out\/a\.png/, undefined, mark);
    const [, eventName, size, etag] = /THUMB (\S+) in\/a\.png (\d+) (\S+)/.exec(line)!;
    expect([eventName, size]).toEqual(['ObjectCreated:PutObject', '7']);
    expect(etag).toBe(((await c.head('in/a.png')).res.headers as Record<string, string>).etag!.replace(/"/g, ''));
    const out = await c.get('out/a.png');
    expect(out.content.toString()).toBe('ATADGNP');
    expect((await c.head('out/a.png')).meta).toEqual({ source: 'in/a.png' });
    // The function's own write under out/ fired nothing (the trigger wants in/): one THUMB line.
    expect(srv.output().slice(mark).match(/THUMB /g)).toHaveLength(1);
  });

  it('fires CopyObject and CompleteMultipartUpload with their names, a delete ObjectRemoved, once each', async () => {
    const c = client();
    await c.put('staging/b.png', Buffer.from('B'));
    const mark = srv.output().length;
    await c.copy('in/b.png', 'staging/b.png');
    await srv.waitFor(/THUMB ObjectCreated:CopyObject in\/b\.png/, undefined, mark);
    const file = path.join(dir, 'c.bin');
    writeFileSync(file, Buffer.alloc(250 * 1024, 'z'));
    await c.multipartUpload('in/c.bin', file, { partSize: 100 * 1024 });
    await srv.waitFor(/THUMB ObjectCreated:CompleteMultipartUpload in\/c\.bin 256000/, undefined, mark);
    await c.delete('in/b.png');
    await srv.waitFor(/REMOVED ObjectRemoved:DeleteObject in\/b\.png/, undefined, mark);
    await c.deleteMulti(['in/c.bin']);
    await srv.waitFor(/REMOVED ObjectRemoved:DeleteObjects in\/c\.bin/, undefined, mark);
    // Each write fired once: the folder watcher leaves the API's writes to the API.
    await new Promise((r) => setTimeout(r, scaled(500)));
    const out = srv.output().slice(mark);
    expect(out.match(/THUMB \S+ in\/b\.png/g)).toHaveLength(1);
    expect(out.match(/REMOVED \S+ in\/b\.png/g)).toHaveLength(1);
  });

  it('runs the same app in Python: a minimal V1 client on the standard library (no OSS SDK for Python here) connects to OSS\'s own internal name', async () => {
    const c = client();
    const mark = srv.output().length;
    await c.put('py/p.txt', Buffer.from('python'));
    await srv.waitFor(/PYTHUMB ObjectCreated:PutObject py\/p\.txt -> pyout\/p\.txt/, undefined, mark);
    expect((await c.get('pyout/p.txt')).content.toString()).toBe('PYTHON');
    // The Python agent marks its calls to OSS's names: the write is the invocation's child in its trace.
    expect(await writesOfLast(srv.base, 'photos/pythumb')).toContainEqual(expect.objectContaining({ key: 'pyout/p.txt' }));
  });

  it('fires PostObject for a form upload', async () => {
    const c = client();
    const signed = c.calculatePostSignature({ expiration: new Date(Date.now() + 600_000).toISOString(), conditions: [['starts-with', '$key', 'in/']] }) as unknown as Record<string, string>;
    const f = new FormData();
    for (const [k, v] of Object.entries({ key: 'in/form.png', ...signed })) f.append(k, v);
    f.append('file', new Blob(['FORM']), 'form.png');
    const mark = srv.output().length;
    expect((await fetch(`http://127.0.0.1:${ossPort}/photos`, { method: 'POST', body: f })).status).toBe(204);
    await srv.waitFor(/THUMB ObjectCreated:PostObject in\/form\.png 4/, undefined, mark);
    expect((await c.get('out/form.png')).content.toString()).toBe('MROF');
  });

  it('lists a file dropped into the bucket folder by hand, and fires for it', async () => {
    const mark = srv.output().length;
    mkdirSync(path.join(ossDir(), 'photos', 'in'), { recursive: true });
    writeFileSync(path.join(ossDir(), 'photos', 'in', 'dropped.png'), 'HAND');
    await srv.waitFor(/THUMB ObjectCreated:PutObject in\/dropped\.png 4/, undefined, mark);
    const listed = await client().list({ prefix: 'in/dropped', 'max-keys': 100 }, {});
    expect(listed.objects.map((o) => [o.name, o.size])).toEqual([['in/dropped.png', 4]]);
    expect((await client().get('out/dropped.png')).content.toString()).toBe('DNAH');
  });
});

describe.runIf(BACKENDS.some((b) => b.name === 'docker'))('the local OSS from a container', () => {
  it('runs the thumbnail app on the Docker backend: the function reaches the local OSS through its socket', async () => {
    const docker = BACKENDS.find((b) => b.name === 'docker')!;
    const own = mkdtempSync(path.join(os.tmpdir(), 'fc-local-oss-docker-'));
    cpSync(fixture('oss'), own, { recursive: true });
    const port = await freePort();
    const s = await startServer(['-t', path.join(own, 'fc.yml'), '--oss-port', String(port), ...docker.args]);
    try {
      const c = new OSS({ endpoint: `http://127.0.0.1:${port}`, accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, accessKeySecret: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET, bucket: 'photos' });
      await c.put('in/d.png', Buffer.from('DOCKER'));
      await s.waitFor(/THUMB ObjectCreated:PutObject in\/d\.png 6 \S+ -> out\/d\.png/);
      expect((await c.get('out/d.png')).content.toString()).toBe('REKCOD');
      await c.put('py/d.txt', Buffer.from('container'));
      await s.waitFor(/PYTHUMB ObjectCreated:PutObject py\/d\.txt -> pyout\/d\.txt/);
      expect((await c.get('pyout/d.txt')).content.toString()).toBe('CONTAINER');
      expect(await writesOfLast(s.base, 'photos/thumb')).toContainEqual(expect.objectContaining({ key: 'out/d.png' }));
      expect(await writesOfLast(s.base, 'photos/pythumb')).toContainEqual(expect.objectContaining({ key: 'pyout/d.txt' }));
    } finally {
      await s.stop();
    }
  });
});

describe('--oss remote', () => {
  it("leaves functions OSS's real names: the thumbnail function's client goes to aliyuncs.com, not to the local OSS", async () => {
    const own = mkdtempSync(path.join(os.tmpdir(), 'fc-local-oss-remote-'));
    cpSync(fixture('oss'), own, { recursive: true });
    const port = await freePort();
    const s = await startServer(['-t', path.join(own, 'fc.yml'), '--oss-port', String(port), '--oss', 'remote', '--backend', 'process']);
    try {
      expect(s.output()).toContain('oss remote: functions reach the real OSS');
      const c = new OSS({ endpoint: `http://127.0.0.1:${port}`, accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, accessKeySecret: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET, bucket: 'photos' });
      await c.put('in/r.png', Buffer.from('R'));
      // No network here: the real name does not resolve, and nothing was written locally.
      await s.waitFor(/trigger photos\/thumb\/uploads: request \S+ failed: [^\n]*photos\.oss-cn-hangzhou-internal\.aliyuncs\.com/);
      const missing = (await c.get('out/r.png').catch((e: unknown) => e)) as { code: string };
      expect(missing.code).toBe('NoSuchKey');
    } finally {
      await s.stop();
    }
  });
});
