// Local OSS benchmark: PutObject and GetObject of 4 KB objects at 10 connections through fc-local's
// OSS (presigned V1 URLs, so that signatures are checked), against a bare Node static file server
// over the same kind of folder in the same run; then a 1 GB object streamed in and out, with
// fc-local's RSS growth. Bounded: --duration seconds per load, one 1 GB object (--mb); cleans up.
// Usage: npm run build && node bench/oss.js [--duration 5] [--mb 1024]
import autocannon from 'autocannon';
import { execa } from 'execa';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import OSS from 'ali-oss';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({ options: { duration: { type: 'string', default: '5' }, mb: { type: 'string', default: '1024' } } });
const duration = Number(opts.duration);
const mb = Number(opts.mb);
const keys = { accessKeyId: 'bench-key', accessKeySecret: 'bench-secret' };
const work = mkdtempSync(path.join(os.tmpdir(), 'fc-local-oss-bench-'));
const body = Buffer.alloc(4096, 'o');

// The reference: a bare static file server, GET from the folder, PUT to a temp file renamed into place.
const bareDir = path.join(work, 'bare');
mkdirSync(path.join(bareDir, 'bench'), { recursive: true });
writeFileSync(path.join(bareDir, 'bench', 'obj'), body);
let tmpN = 0;
const bare = http.createServer((req, res) => {
  const file = path.join(bareDir, decodeURIComponent(req.url.split('?')[0]));
  if (req.method === 'PUT') {
    const tmp = path.join(bareDir, `.tmp-${tmpN++}`);
    pipeline(req, createWriteStream(tmp)).then(() => {
      renameSync(tmp, file);
      res.end();
    });
    return;
  }
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
  createReadStream(file).pipe(res);
});
bare.keepAliveTimeout = 65_000;
await new Promise((r) => bare.listen(0, '127.0.0.1', r));

const tpl = path.join(work, 'fc.yml');
writeFileSync(tpl, 'services: {}\n');
mkdirSync(path.join(work, '.fc-local', 'oss', 'bench'), { recursive: true });
const fc = execa('node', ['bin/fc-local.js', 'start', '-t', tpl, '--port', '0', '--no-workbench', '--backend', 'process'], {
  cwd: root,
  env: { ALIBABA_CLOUD_ACCESS_KEY_ID: keys.accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: keys.accessKeySecret },
  reject: false,
  buffer: false,
});
try {
  const endpoint = await new Promise((resolve) => {
    let out = '';
    fc.stdout.on('data', (d) => {
      out += d;
      const m = /oss\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && /listening on/.test(out)) resolve(m[1]);
    });
  });
  const client = new OSS({ endpoint, ...keys, bucket: 'bench' });
  await client.put('obj', body);
  // ali-oss presigns on the bucket's host name: the same path-style URL, signed for /bench/obj.
  const presigned = (method) => {
    const signer = new OSS({ endpoint: `http://oss-cn-hangzhou.localhost:${new URL(endpoint).port}`, ...keys, bucket: 'bench' });
    const u = new URL(signer.signatureUrl('obj', { method, expires: 3600, ...(method === 'PUT' ? { 'Content-Type': 'application/octet-stream' } : {}) }));
    return `${endpoint}/bench/obj${u.search}`;
  };
  const load = (url, method) =>
    autocannon({ url, method, connections: 10, duration, ...(method === 'PUT' ? { body, headers: { 'content-type': 'application/octet-stream' } } : {}) });
  const bareUrl = `http://127.0.0.1:${bare.address().port}/bench/obj`;
  const results = {
    bareGet: await load(bareUrl, 'GET'),
    ossGet: await load(presigned('GET'), 'GET'),
    barePut: await load(bareUrl, 'PUT'),
    ossPut: await load(presigned('PUT'), 'PUT'),
  };
  for (const [name, r] of Object.entries(results)) if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);

  // 1 GB in (PutObject) and out (GetObject), with fc-local's RSS sampled meanwhile.
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${fc.pid}/status`, 'utf8'))[1]) / 1024;
  const base = rss();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 50);
  const chunk = Buffer.alloc(64 * 1024, 'g');
  const big = Readable.from((function* () {
    for (let i = 0; i < mb * 16; i++) yield chunk;
  })());
  const t0 = performance.now();
  await client.putStream('big', big, { contentLength: mb * 1024 * 1024 });
  const inS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const got = await client.getStream('big');
  let read = 0;
  for await (const c of got.stream) read += c.length;
  const outS = (performance.now() - t1) / 1000;
  clearInterval(sampler);
  if (read !== mb * 1024 * 1024) throw new Error(`read ${read} bytes of ${mb} MB`);

  const rps = (r) => r.requests.average;
  console.log(`local OSS, 4 KB objects, 10 connections, ${duration} s each (node ${process.version})`);
  console.log('| operation | bare static server req/s | fc-local OSS req/s | of bare |');
  console.log('| --- | ---: | ---: | ---: |');
  console.log(`| GetObject (presigned) | ${rps(results.bareGet).toFixed(0)} | ${rps(results.ossGet).toFixed(0)} | ${((rps(results.ossGet) / rps(results.bareGet)) * 100).toFixed(0)}% |`);
  console.log(`| PutObject (presigned) | ${rps(results.barePut).toFixed(0)} | ${rps(results.ossPut).toFixed(0)} | ${((rps(results.ossPut) / rps(results.barePut)) * 100).toFixed(0)}% |`);
  console.log(`${mb} MB object: in ${(mb / inS).toFixed(0)} MB/s, out ${(mb / outS).toFixed(0)} MB/s; fc-local RSS ${base.toFixed(0)} MB, growth ${(peak - base).toFixed(1)} MB`);
} finally {
  fc.kill('SIGINT');
  await fc;
  bare.close();
  rmSync(work, { recursive: true, force: true });
}
