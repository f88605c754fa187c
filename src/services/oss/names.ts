import path from 'node:path';
import { ossErrors } from './errors.js';

// What OSS accepts as bucket and object names, and where each lives on disk: a bucket is a folder
// of the OSS root, an object a file under it. Nothing outside the root can be named.

const BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export function checkBucket(name: string): string {
  if (!BUCKET.test(name)) throw ossErrors.badBucket(name);
  return name;
}

export function checkKey(key: string): string {
  if (!key) throw ossErrors.badKey(key, 'the key is empty');
  if (Buffer.byteLength(key) > 1023) throw ossErrors.badKey(key, 'a key has at most 1023 bytes');
  if (key.includes('\0')) throw ossErrors.badKey(key, 'a key has no NUL character');
  if (key.startsWith('/') || key.startsWith('\\')) throw ossErrors.badKey(key, 'a key does not start with / or \\');
  // Segments that would step out of (or stand still in) the bucket's folder.
  if (key.split(/[/\\]/).some((s) => s === '..' || s === '.')) throw ossErrors.badKey(key, 'a key has no . or .. segment');
  return key;
}

/** The file of an object (a key ending in / is a folder), inside `root`/`bucket` whatever the key. */
export function objectPath(root: string, bucket: string, key: string): string {
  const base = path.join(root, bucket);
  const file = path.join(base, ...key.split('/').filter(Boolean));
  const rel = path.relative(base, file);
  if (rel.startsWith('..') || path.isAbsolute(rel) || rel === '') throw ossErrors.badKey(key, 'the key names no file in its bucket');
  return file;
}

/** The object key of a file under `root`/`bucket`. */
export function keyOf(root: string, bucket: string, file: string): string {
  return path.relative(path.join(root, bucket), file).split(path.sep).join('/');
}
