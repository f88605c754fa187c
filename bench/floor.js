// The floor of FC's instance model, as a reference for bench/run.js: a minimal gateway with no
// checks forwarding over keep-alive HTTP to N agent processes that each take one request at a
// time (FC 1.0's instance). Whatever fc-local adds is measured against this.
// Usage: node bench/floor.js [instances]    prints "listening on http://127.0.0.1:PORT"
import { fork } from 'node:child_process';
import http from 'node:http';
import { answer } from './answer.js';

if (process.argv[2] === 'agent') {
  // An agent lives as long as its gateway: the IPC channel closes when the gateway ends, however.
  process.on('disconnect', () => process.exit(0));
  const server = http.createServer(answer);
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
} else {
  const n = Number(process.argv[2] ?? 10);
  const ports = await Promise.all(Array.from({ length: n }, () => new Promise((resolve) => fork(new URL(import.meta.url).pathname, ['agent']).once('message', resolve))));
  const idle = ports.map((port) => ({ port, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) }));
  const waiting = [];
  const release = (inst) => (waiting.length ? waiting.shift()(inst) : idle.push(inst));
  const gateway = http.createServer(async (req, res) => {
    const inst = idle.pop() ?? (await new Promise((resolve) => waiting.push(resolve)));
    const up = http.request({ host: '127.0.0.1', port: inst.port, method: req.method, path: req.url, headers: req.headers, agent: inst.agent }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
      r.on('end', () => release(inst));
    });
    req.pipe(up);
  });
  gateway.keepAliveTimeout = 65_000;
  gateway.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${gateway.address().port}`));
}
