// Streaming benchmark: a custom runtime streams 1 GB (and server-sent events) through fc-local's
// function URL, against the same server reached directly in the same run (the reference). Reports
// throughput of each, fc-local's RSS growth while it passes the stream, and the SSE events' delay
// from being written to being read. Bounded: one stream of --mb, five events; cleans up.
// Usage: npm run build && node bench/streaming.js [--backend process|docker] [--image IMG] [--mb 1024]
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'process' },
    image: { type: 'string', default: process.env.FC_LOCAL_IMAGE },
    mb: { type: 'string', default: '1024' },
  },
});
const mb = Number(opts.mb);
const code = path.join(root, 'fixtures', 'streaming', 'code');

async function started(proc, re) {
  let out = '';
  return new Promise((resolve, reject) => {
    const on = (d) => {
      out += d;
      const m = re.exec(out);
      if (m) resolve(m);
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
    proc.catch?.((e) => reject(new Error(`${e.message}\n${out}`)));
  });
}

const rssKB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

/** GETs path (with a Host header), reading the body as it comes; samples `pid`'s RSS meanwhile. */
function read(port, p, host, pid) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let bytes = 0;
    let peak = pid ? rssKB(pid) : 0;
    const base = peak;
    const sampler = pid ? setInterval(() => (peak = Math.max(peak, rssKB(pid))), 50) : undefined;
    const chunks = [];
    http
      .get({ host: '127.0.0.1', port, path: p, headers: host ? { host } : {}, agent: false }, (res) => {
        res.on('data', (d) => {
          bytes += d.length;
          if (d.length < 4096) chunks.push({ at: Date.now(), text: d.toString() });
        });
        res.on('end', () => {
          clearInterval(sampler);
          resolve({ bytes, seconds: (performance.now() - t0) / 1000, growthMB: (peak - base) / 1024, chunks });
        });
      })
      .on('error', reject);
  });
}

const sseDelays = (chunks) =>
  chunks.flatMap((c) => [...c.text.matchAll(/data: (\{.*\})/g)].map((m) => c.at - JSON.parse(m[1]).at));

// The reference: the function's own server, reached directly (on a free port it prints).
const bare = execa('node', ['-e', `process.env.FC_SERVER_PORT='0';const h=require('http');const l=h.Server.prototype.listen;h.Server.prototype.listen=function(...a){const r=l.apply(this,[0,'127.0.0.1']);this.on('listening',()=>console.log('listening on '+this.address().port));return r};require(${JSON.stringify(path.join(code, 'server.js'))})`], { cwd: code, reject: false, buffer: false });
// The floor of any gateway: a bare Node proxy piping the same stream through one more hop.
const proxySrc = `const h=require('http');const up=Number(process.argv[1]);h.createServer((q,r)=>{const u=h.request({host:'127.0.0.1',port:up,path:q.url,method:q.method,headers:q.headers},(x)=>{r.writeHead(x.statusCode,x.headers);x.pipe(r)});q.pipe(u)}).listen(0,'127.0.0.1',function(){console.log('listening on '+this.address().port)})`;
const fc = execa('node', ['bin/fc-local.js', 'start', '-t', 'fixtures/streaming/fc.yml', '--port', '0', '--no-auth', '--no-workbench', '--backend', opts.backend, ...(opts.image ? ['--image', opts.image] : [])], { cwd: root, reject: false, buffer: false });
let proxy;
try {
  const barePort = Number((await started(bare, /listening on (\d+)/))[1]);
  proxy = execa('node', ['-e', proxySrc, String(barePort)], { reject: false, buffer: false });
  const proxyPort = Number((await started(proxy, /listening on (\d+)/))[1]);
  const fcPort = Number(new URL((await started(fc, /listening on (http:\/\/\S+)/))[1]).port);
  const host = `stream3.localhost:${fcPort}`;
  await read(fcPort, '/plain', host); // warm
  const ref = await read(barePort, `/big?mb=${mb}`);
  const proxied = await read(proxyPort, `/big?mb=${mb}`, undefined, proxy.pid);
  const through = await read(fcPort, `/big?mb=${mb}`, host, fc.pid);
  const refSse = sseDelays((await read(barePort, '/sse')).chunks);
  const fcSse = sseDelays((await read(fcPort, '/sse', host)).chunks);
  const rate = (r) => r.bytes / 1024 / 1024 / r.seconds;
  console.log(`streaming ${mb} MB, ${opts.backend} backend, node ${process.version}`);
  console.log('| path | MB/s | of direct | fc-local RSS growth | SSE event delay (ms, max of 5) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(`| direct to the function's server | ${rate(ref).toFixed(0)} | 100% | - | ${Math.max(...refSse)} |`);
  console.log(`| a bare Node proxy in front (one more hop) | ${rate(proxied).toFixed(0)} | ${((rate(proxied) / rate(ref)) * 100).toFixed(0)}% | ${proxied.growthMB.toFixed(1)} MB (the proxy's) | - |`);
  console.log(`| fc-local function URL | ${rate(through).toFixed(0)} | ${((rate(through) / rate(ref)) * 100).toFixed(0)}% | ${through.growthMB.toFixed(1)} MB | ${Math.max(...fcSse)} |`);
  if (through.bytes !== mb * 1024 * 1024) throw new Error(`read ${through.bytes} bytes through fc-local, not ${mb} MB`);
} finally {
  bare.kill();
  proxy?.kill();
  fc.kill('SIGINT');
  await Promise.allSettled([bare, fc, ...(proxy ? [proxy] : [])]);
}
