import type Server from 'http-proxy';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { runtimeFamily, type Template } from '../model.js';
import type { Invoker } from '../runtime/invoker.js';
import { functionUrlOf } from './custom-domains.js';

// WebSocket upgrades at a function URL go to a custom runtime's server as they came (FC 3.0
// supports WebSocket for custom runtimes), through http-proxy; the instance stays leased while
// the connection lasts.

export function upgradeHandler(deps: { template: () => Template; invoker: Invoker; log?: (line: string) => void }) {
  // http-proxy is loaded by the first upgrade, not by every start.
  let proxy: Promise<Server> | undefined;
  const proxyOf = () =>
    (proxy ??= import('http-proxy').then(({ default: httpProxy }) => {
      const p = httpProxy.createProxyServer({ ws: true, xfwd: false });
      p.on('error', (_err, _req, socket) => (socket as Duplex).destroy?.());
      return p;
    }));
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const f = functionUrlOf(deps.template(), req.headers.host);
    if (!f || runtimeFamily(f.runtime) !== 'custom') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    Promise.all([deps.invoker.connect(f), proxyOf()]).then(
      ([conn, proxy]) => {
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          conn.release();
        };
        socket.once('close', release);
        proxy.ws(req, socket, head, { target: `http://${conn.host}:${conn.port}` });
      },
      (err: Error) => {
        deps.log?.(`websocket to ${f.name}: ${err.message}`);
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      },
    );
  };
}
