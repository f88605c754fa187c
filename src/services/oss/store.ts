import { createHash, randomUUID, type Hash } from 'node:crypto';
import { appendFileSync, closeSync, copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { checkBucket, checkKey, keyOf, objectPath } from './names.js';
import { OssError, ossErrors } from './errors.js';

// The local OSS's storage: a bucket is a folder under `root` (.fc-local/oss/<bucket>), an object a
// file in it, so that a file dropped in by hand is an object and an object written through the
// API is a file. What OSS keeps beside the bytes (Content-Type, x-oss-meta-*, ETag, ACL, storage
// class) lives in `metaRoot`, never in the user's folder; a file changed by hand gets its ETag
// computed anew. Writes go to a temp file and are renamed into place: a client that goes away
// mid-upload leaves nothing, and the last complete write of a key wins.

export interface ObjectMeta {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  contentType: string;
  /** x-oss-meta-* without the prefix, lower-cased names. */
  userMeta: Record<string, string>;
  acl: string;
  storageClass: string;
  /** Standard headers the object was stored with (Cache-Control, Content-Disposition, ...). */
  headers: Record<string, string>;
  /** OSS's object type: Normal, Multipart or Appendable. */
  type: string;
}

interface StoredMeta {
  key: string;
  etag: string;
  size: number;
  mtimeMs: number;
  contentType: string;
  userMeta: Record<string, string>;
  acl: string;
  storageClass: string;
  headers: Record<string, string>;
  type?: string;
}

export interface PutOptions {
  contentType?: string;
  userMeta?: Record<string, string>;
  acl?: string;
  storageClass?: string;
  headers?: Record<string, string>;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  /** Keys after this one (V1 marker, V2 start-after or continuation token). */
  after?: string;
  maxKeys: number;
}

export interface ListResult {
  objects: ObjectMeta[];
  prefixes: string[];
  truncated: boolean;
  /** The last key or prefix returned, where the next page starts. */
  next?: string;
}

export interface UploadPart {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: Date;
}

const TYPES: Record<string, string> = {
  '.txt': 'text/plain', '.html': 'text/html', '.htm': 'text/html', '.css': 'text/css', '.js': 'application/javascript',
  '.json': 'application/json', '.xml': 'application/xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
  '.gif': 'image/gif', '.webp': 'image/webp', '.svg': 'image/svg+xml', '.pdf': 'application/pdf', '.zip': 'application/zip',
  '.mp4': 'video/mp4', '.mp3': 'audio/mpeg', '.csv': 'text/csv', '.md': 'text/markdown', '.wasm': 'application/wasm',
};

/** OSS's default Content-Type for a key: by its extension, else application/octet-stream. */
export function typeOfKey(key: string): string {
  return TYPES[path.extname(key).toLowerCase()] ?? 'application/octet-stream';
}

const quoted = (md5hex: string) => `"${md5hex.toUpperCase()}"`;

/** Streams `source` into `file`, feeding `hash` on the way; rejects if the source fails or ends early. */
function writeHashed(source: Readable, file: string, hash: Hash): Promise<void> {
  return pipeline(
    source,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const c of chunks) {
        hash.update(c);
        yield c;
      }
    },
    createWriteStream(file),
  );
}

/** A file's MD5 (hex), read a megabyte at a time: a large file dropped in by hand is not loaded whole. */
function md5OfFile(file: string): string {
  const hash = createHash('md5');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** A bucket's own metadata (its ACL), beside its objects' (whose files are named by SHA-1). */
const BUCKET_META = '_bucket.json';

export class OssStore {
  /** Files this store wrote or removed lately: the folder watcher leaves them to the API's events. */
  private readonly recent = new Map<string, number>();

  constructor(
    readonly root: string,
    readonly metaRoot: string,
  ) {}

  /** Where writes are staged, made at the first write: a project that uses no OSS gets no folders. */
  private tmpFile(): string {
    const dir = path.join(this.metaRoot, '.tmp');
    mkdirSync(dir, { recursive: true });
    return path.join(dir, randomUUID());
  }

  /** Whether `file` was written or removed through the API in the last few seconds. */
  wroteRecently(file: string): boolean {
    const at = this.recent.get(file);
    return at !== undefined && Date.now() - at < 5000;
  }

  private note(file: string): void {
    const now = Date.now();
    this.recent.set(file, now);
    if (this.recent.size > 1000) for (const [f, at] of this.recent) if (now - at > 5000) this.recent.delete(f);
  }

  // ---- buckets

  buckets(): { name: string; created: Date }[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => ({ name: e.name, created: statSync(path.join(this.root, e.name)).birthtime }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  bucketDir(bucket: string): string {
    return path.join(this.root, checkBucket(bucket));
  }

  hasBucket(bucket: string): boolean {
    return existsSync(this.bucketDir(bucket));
  }

  requireBucket(bucket: string): void {
    if (!this.hasBucket(bucket)) throw ossErrors.noBucket(bucket);
  }

  createBucket(bucket: string): boolean {
    const dir = this.bucketDir(bucket);
    if (existsSync(dir)) return false;
    mkdirSync(dir, { recursive: true });
    return true;
  }

  /** The bucket's ACL (private until set): what an object with the `default` ACL has. */
  bucketAcl(bucket: string): string {
    this.requireBucket(bucket);
    try {
      return (JSON.parse(readFileSync(path.join(this.metaRoot, bucket, BUCKET_META), 'utf8')) as { acl?: string }).acl ?? 'private';
    } catch {
      return 'private';
    }
  }

  setBucketAcl(bucket: string, acl: string): void {
    this.requireBucket(bucket);
    const file = path.join(this.metaRoot, bucket, BUCKET_META);
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = this.tmpFile();
    writeFileSync(tmp, JSON.stringify({ acl }));
    renameSync(tmp, file);
  }

  /** What anyone may do with an object: its own ACL, or the bucket's where it has `default`. */
  effectiveAcl(bucket: string, key: string | undefined): string {
    if (key !== undefined) {
      try {
        const own = this.head(bucket, key).acl;
        if (own !== 'default') return own;
      } catch {
        // A key that is not there yet (a write) has the bucket's ACL.
      }
    }
    return this.bucketAcl(bucket);
  }

  deleteBucket(bucket: string): void {
    this.requireBucket(bucket);
    if (this.list(bucket, { maxKeys: 1 }).objects.length) throw new OssError(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty.', { BucketName: bucket });
    rmSync(this.bucketDir(bucket), { recursive: true, force: true });
    rmSync(path.join(this.metaRoot, bucket), { recursive: true, force: true });
    for (const id of this.cache.keys()) if (id.startsWith(`${bucket}\0`)) this.cache.delete(id);
  }

  // ---- objects

  private metaFile(bucket: string, key: string): string {
    return path.join(this.metaRoot, bucket, `${createHash('sha1').update(key).digest('hex')}.json`);
  }

  /** Metadata read lately, by bucket and key: a GET needs no file read for it (head() checks it against the file). */
  private readonly cache = new Map<string, StoredMeta>();

  private readStored(bucket: string, key: string): StoredMeta | undefined {
    const id = `${bucket}\0${key}`;
    const hit = this.cache.get(id);
    if (hit) return hit;
    try {
      const meta = JSON.parse(readFileSync(this.metaFile(bucket, key), 'utf8')) as StoredMeta;
      this.remember(id, meta);
      return meta;
    } catch {
      return undefined;
    }
  }

  private remember(id: string, meta: StoredMeta | undefined): void {
    if (!meta) {
      this.cache.delete(id);
      return;
    }
    if (this.cache.size >= 10_000) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, meta);
  }

  private writeStored(bucket: string, meta: StoredMeta): void {
    this.remember(`${bucket}\0${meta.key}`, meta);
    const file = this.metaFile(bucket, meta.key);
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = this.tmpFile();
    writeFileSync(tmp, JSON.stringify(meta));
    renameSync(tmp, file);
  }

  /** An object's metadata; a file changed or dropped in by hand is read for its ETag. */
  head(bucket: string, key: string): ObjectMeta {
    this.requireBucket(bucket);
    const file = objectPath(this.root, bucket, checkKey(key));
    let st: Stats | undefined;
    try {
      st = statSync(file);
    } catch {
      throw ossErrors.noKey(key);
    }
    const folder = key.endsWith('/');
    if (st.isDirectory() !== folder) throw ossErrors.noKey(key);
    const stored = this.readStored(bucket, key);
    if (folder && !stored) throw ossErrors.noKey(key);
    const size = folder ? 0 : st.size;
    let meta = stored;
    if (!meta || (!folder && (meta.size !== size || meta.mtimeMs !== st.mtimeMs))) {
      const etag = quoted(folder ? createHash('md5').digest('hex') : md5OfFile(file));
      meta = { key, etag, size, mtimeMs: st.mtimeMs, contentType: stored?.contentType ?? typeOfKey(key), userMeta: stored?.userMeta ?? {}, acl: stored?.acl ?? 'default', storageClass: stored?.storageClass ?? 'Standard', headers: stored?.headers ?? {} };
      this.writeStored(bucket, meta);
    }
    const type = meta.type ?? (meta.etag.includes('-') ? 'Multipart' : 'Normal');
    return { key, size, etag: meta.etag, lastModified: st.mtime, contentType: meta.contentType, userMeta: meta.userMeta, acl: meta.acl, storageClass: meta.storageClass, headers: meta.headers, type };
  }

  read(bucket: string, key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(objectPath(this.root, bucket, key), range);
  }

  /**
   * Stores the bytes of `source` under `key`: to a temp file first (hashing as it goes), renamed
   * into place once complete. Rejects (and leaves nothing) if the source fails or ends early.
   */
  async put(bucket: string, key: string, source: Readable | Buffer, opts: PutOptions = {}, expectMd5?: string): Promise<ObjectMeta> {
    this.requireBucket(bucket);
    const file = objectPath(this.root, bucket, checkKey(key));
    const tmp = this.tmpFile();
    const hash = createHash('md5');
    try {
      if (key.endsWith('/')) {
        if (Buffer.isBuffer(source) ? source.length : 0) throw new OssError(400, 'InvalidArgument', 'A key ending in / is a folder here: it holds no bytes.');
        if (!Buffer.isBuffer(source)) for await (const c of source) if ((c as Buffer).length) throw new OssError(400, 'InvalidArgument', 'A key ending in / is a folder here: it holds no bytes.');
      } else if (Buffer.isBuffer(source)) {
        hash.update(source);
        writeFileSync(tmp, source);
      } else {
        await writeHashed(source, tmp, hash);
      }
      const md5 = hash.digest();
      if (expectMd5 && md5.toString('base64') !== expectMd5) throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified did not match what was received.');
      this.place(bucket, key, file, tmp);
      return this.record(bucket, key, file, opts, quoted(md5.toString('hex')));
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Moves a complete temp file to the object's place (the parent folders made as needed). */
  private place(bucket: string, key: string, file: string, tmp: string): void {
    this.note(file);
    if (key.endsWith('/')) {
      mkdirSync(file, { recursive: true });
      return;
    }
    try {
      mkdirSync(path.dirname(file), { recursive: true });
    } catch {
      throw ossErrors.badKey(key, `fc-local keeps objects as files, and a part of this key is an object already`);
    }
    if (existsSync(file) && statSync(file).isDirectory()) throw ossErrors.badKey(key, 'fc-local keeps objects as files, and this key is a folder of other objects');
    try {
      renameSync(tmp, file);
    } catch (err) {
      // Another file system (--oss-dir elsewhere): copy, then the temp goes.
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      copyFileSync(tmp, file);
      unlinkSync(tmp);
    }
  }

  private record(bucket: string, key: string, file: string, opts: PutOptions, etag?: string, type?: string): ObjectMeta {
    const st = statSync(file);
    const size = key.endsWith('/') ? 0 : st.size;
    const md5 = etag ?? quoted(key.endsWith('/') ? createHash('md5').digest('hex') : md5OfFile(file));
    const meta: StoredMeta = {
      key,
      etag: md5,
      size,
      mtimeMs: st.mtimeMs,
      contentType: opts.contentType ?? typeOfKey(key),
      userMeta: opts.userMeta ?? {},
      acl: opts.acl ?? 'default',
      storageClass: opts.storageClass ?? 'Standard',
      headers: opts.headers ?? {},
      ...(type ? { type } : {}),
    };
    this.writeStored(bucket, meta);
    return { ...meta, lastModified: st.mtime, type: type ?? (md5.includes('-') ? 'Multipart' : 'Normal') };
  }

  /**
   * AppendObject: adds `body` at `position`, which must be the object's length (0 for a new one);
   * only an Appendable object takes appends. Returns the object and the next position.
   */
  append(bucket: string, key: string, body: Buffer, position: number, opts: PutOptions): ObjectMeta {
    this.requireBucket(bucket);
    const file = objectPath(this.root, bucket, checkKey(key));
    let current: ObjectMeta | undefined;
    try {
      current = this.head(bucket, key);
    } catch {
      current = undefined;
    }
    if (current && current.type !== 'Appendable') throw new OssError(409, 'ObjectNotAppendable', 'The object is not appendable');
    const length = current?.size ?? 0;
    if (position !== length) {
      throw new OssError(409, 'PositionNotEqualToLength', 'Position is not equal to file length', { CurrentPosition: String(length) });
    }
    if (!current) {
      const tmp = this.tmpFile();
      writeFileSync(tmp, body);
      this.place(bucket, key, file, tmp);
    } else {
      this.note(file);
      appendFileSync(file, body);
    }
    return this.record(bucket, key, file, current ? { contentType: current.contentType, userMeta: current.userMeta, acl: current.acl, storageClass: current.storageClass, headers: current.headers } : opts, quoted(md5OfFile(file)), 'Appendable');
  }

  /** Rewrites an object's metadata only (CopyObject onto itself with REPLACE, ACL changes). */
  updateMeta(bucket: string, key: string, change: Partial<Pick<StoredMeta, 'contentType' | 'userMeta' | 'acl' | 'storageClass' | 'headers'>>): ObjectMeta {
    const current = this.head(bucket, key);
    const stored = this.readStored(bucket, key)!;
    this.writeStored(bucket, { ...stored, ...change });
    return { ...current, ...change };
  }

  delete(bucket: string, key: string): boolean {
    this.requireBucket(bucket);
    const file = objectPath(this.root, bucket, checkKey(key));
    let existed = false;
    try {
      const st = statSync(file);
      if (st.isDirectory()) {
        if (key.endsWith('/')) {
          existed = !!this.readStored(bucket, key);
          // A folder object goes; the folder stays while other objects are in it.
          if (readdirSync(file).length === 0) rmSync(file, { recursive: true });
        }
      } else if (!key.endsWith('/')) {
        this.note(file);
        unlinkSync(file);
        existed = true;
      }
    } catch {
      existed = false;
    }
    rmSync(this.metaFile(bucket, key), { force: true });
    this.remember(`${bucket}\0${key}`, undefined);
    return existed;
  }

  async copy(from: { bucket: string; key: string }, to: { bucket: string; key: string }, opts: PutOptions | undefined): Promise<ObjectMeta> {
    const src = this.head(from.bucket, from.key);
    const replace = opts ?? { contentType: src.contentType, userMeta: src.userMeta, acl: src.acl, storageClass: src.storageClass, headers: src.headers };
    if (from.bucket === to.bucket && from.key === to.key) return this.updateMeta(to.bucket, to.key, replace);
    return this.put(to.bucket, to.key, this.read(from.bucket, from.key), replace);
  }

  /** Keys of a bucket in order, with OSS's prefix, delimiter (common prefixes) and paging. */
  list(bucket: string, o: ListOptions): ListResult {
    this.requireBucket(bucket);
    const base = this.bucketDir(bucket);
    const keys: string[] = [];
    const walk = (dir: string) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) {
          const key = `${keyOf(this.root, bucket, full)}/`;
          // Only folders that can hold keys of the prefix are read.
          if (o.prefix && !o.prefix.startsWith(key) && !key.startsWith(o.prefix)) continue;
          if (this.readStored(bucket, key)) keys.push(key);
          walk(full);
        } else if (e.isFile()) keys.push(keyOf(this.root, bucket, full));
      }
    };
    walk(base);
    keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const objects: ObjectMeta[] = [];
    const prefixes: string[] = [];
    let last: string | undefined;
    for (const key of keys) {
      if (o.prefix && !key.startsWith(o.prefix)) continue;
      if (o.after !== undefined && Buffer.compare(Buffer.from(key), Buffer.from(o.after)) <= 0) continue;
      let entry = key;
      if (o.delimiter) {
        const at = key.indexOf(o.delimiter, (o.prefix ?? '').length);
        if (at >= 0) entry = key.slice(0, at + o.delimiter.length);
      }
      if (entry !== key) {
        if (prefixes.at(-1) === entry) continue;
        // A prefix the previous page ended on is not repeated.
        if (o.after !== undefined && o.after.startsWith(entry)) continue;
      }
      if (objects.length + prefixes.length >= o.maxKeys) return { objects, prefixes, truncated: true, next: last };
      if (entry === key) objects.push(this.head(bucket, key));
      else prefixes.push(entry);
      last = entry;
    }
    return { objects, prefixes, truncated: false };
  }

  // ---- multipart uploads: parts live under metaRoot until completed into one file

  private uploadDir(uploadId: string): string {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new OssError(404, 'NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    return path.join(this.metaRoot, '.uploads', uploadId);
  }

  initiate(bucket: string, key: string, opts: PutOptions): string {
    this.requireBucket(bucket);
    checkKey(key);
    const uploadId = randomUUID().replace(/-/g, '');
    const dir = path.join(this.metaRoot, '.uploads', uploadId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'upload.json'), JSON.stringify({ bucket, key, opts, initiated: new Date().toISOString() }));
    return uploadId;
  }

  upload(uploadId: string): { bucket: string; key: string; opts: PutOptions; initiated: string } {
    const dir = this.uploadDir(uploadId);
    try {
      return JSON.parse(readFileSync(path.join(dir, 'upload.json'), 'utf8'));
    } catch {
      throw new OssError(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
    }
  }

  uploads(bucket: string): { uploadId: string; key: string; initiated: string }[] {
    const root = path.join(this.metaRoot, '.uploads');
    if (!existsSync(root)) return [];
    return readdirSync(root)
      .map((uploadId) => ({ uploadId, ...this.upload(uploadId) }))
      .filter((u) => u.bucket === bucket)
      .map(({ uploadId, key, initiated }) => ({ uploadId, key, initiated }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async putPart(uploadId: string, partNumber: number, source: Readable): Promise<string> {
    this.upload(uploadId);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) throw new OssError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    const dir = this.uploadDir(uploadId);
    const tmp = this.tmpFile();
    const hash = createHash('md5');
    try {
      await writeHashed(source, tmp, hash);
      renameSync(tmp, path.join(dir, `part-${partNumber}`));
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    const etag = quoted(hash.digest('hex'));
    writeFileSync(path.join(dir, `part-${partNumber}.etag`), etag);
    return etag;
  }

  parts(uploadId: string): UploadPart[] {
    const dir = this.uploadDir(uploadId);
    this.upload(uploadId);
    return readdirSync(dir)
      .map((f) => /^part-(\d+)$/.exec(f))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => {
        const st = statSync(path.join(dir, m[0]));
        return { partNumber: Number(m[1]), size: st.size, lastModified: st.mtime, etag: readFileSync(path.join(dir, `${m[0]}.etag`), 'utf8') };
      })
      .sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Joins the listed parts, in order, into the object; its ETag is OSS's multipart form. */
  async complete(uploadId: string, listed: { partNumber: number; etag: string }[]): Promise<ObjectMeta & { bucket: string }> {
    const up = this.upload(uploadId);
    const have = new Map(this.parts(uploadId).map((p) => [p.partNumber, p]));
    if (!listed.length) throw new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    let previous = 0;
    for (const p of listed) {
      const part = have.get(p.partNumber);
      if (!part || part.etag.replace(/"/g, '').toUpperCase() !== p.etag.replace(/"/g, '').toUpperCase()) {
        throw new OssError(400, 'InvalidPart', 'One or more of the specified parts could not be found or the specified entity tag might not have matched the part\'s entity tag.', { PartNumber: String(p.partNumber) });
      }
      if (p.partNumber <= previous) throw new OssError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts list must specified in order by part number.');
      previous = p.partNumber;
    }
    const dir = this.uploadDir(uploadId);
    const tmp = this.tmpFile();
    const out = createWriteStream(tmp);
    const sums = createHash('md5');
    try {
      for (const p of listed) {
        sums.update(Buffer.from(have.get(p.partNumber)!.etag.replace(/"/g, ''), 'hex'));
        await pipeline(createReadStream(path.join(dir, `part-${p.partNumber}`)), out, { end: false });
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      const file = objectPath(this.root, up.bucket, up.key);
      this.place(up.bucket, up.key, file, tmp);
      const etag = `"${sums.digest('hex').toUpperCase()}-${listed.length}"`;
      rmSync(dir, { recursive: true, force: true });
      return { ...this.record(up.bucket, up.key, file, up.opts, etag), bucket: up.bucket };
    } catch (err) {
      out.destroy();
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  abort(uploadId: string): void {
    this.upload(uploadId);
    rmSync(this.uploadDir(uploadId), { recursive: true, force: true });
  }
}
