import type { Readable } from 'node:stream';
import type { OssEvent } from './handler.js';
import { typeOfKey, type ObjectMeta, type OssStore } from './store.js';

// The local OSS as the workbench's OSS view uses it: a bucket's folder level (common prefixes and
// objects), an upload, a download and a delete. Writes and deletes fire the OSS triggers as the
// same operations through the API do.

export interface OssListing {
  bucket: string;
  prefix: string;
  acl: string;
  prefixes: string[];
  objects: { key: string; size: number; lastModified: string; etag: string; contentType: string; acl: string }[];
  truncated: boolean;
}

export interface OssBrowser {
  buckets(): string[];
  list(bucket: string, prefix: string): OssListing;
  put(bucket: string, key: string, body: Readable | Buffer, contentType?: string): Promise<ObjectMeta>;
  read(bucket: string, key: string): { meta: ObjectMeta; body: Readable };
  delete(bucket: string, key: string): boolean;
}

/** A listing is one folder level, at most this many entries (the view says when there are more). */
const PAGE = 1000;

export function ossBrowser(store: OssStore, onEvent: (e: OssEvent) => void): OssBrowser {
  return {
    buckets: () => store.buckets().map((b) => b.name),
    list: (bucket, prefix) => {
      store.requireBucket(bucket);
      const r = store.list(bucket, { prefix, delimiter: '/', maxKeys: PAGE });
      return {
        bucket,
        prefix,
        acl: store.bucketAcl(bucket),
        prefixes: r.prefixes,
        objects: r.objects.map((m) => ({ key: m.key, size: m.size, lastModified: m.lastModified.toISOString(), etag: m.etag.replace(/"/g, ''), contentType: m.contentType, acl: m.acl })),
        truncated: r.truncated,
      };
    },
    put: async (bucket, key, body, contentType) => {
      const m = await store.put(bucket, key, body, { contentType: contentType || typeOfKey(key) });
      onEvent({ bucket, key, eventName: 'ObjectCreated:PutObject', size: m.size, etag: m.etag.replace(/"/g, '') });
      return m;
    },
    read: (bucket, key) => {
      const meta = store.head(bucket, key);
      return { meta, body: store.read(bucket, key) };
    },
    delete: (bucket, key) => {
      const gone = store.delete(bucket, key);
      if (gone) onEvent({ bucket, key, eventName: 'ObjectRemoved:DeleteObject', size: 0, etag: '' });
      return gone;
    },
  };
}
