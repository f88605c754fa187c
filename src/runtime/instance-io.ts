import net from 'node:net';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { LineListener, LogStream } from './backend.js';

// Small pieces both backends need: line fan-out, a free loopback port, waiting for a listener.

export class LineHub {
  private readonly listeners = new Set<LineListener>();

  attach(stream: Readable, name: LogStream): void {
    readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.emit(line, name));
  }

  emit(line: string, stream: LogStream): void {
    for (const l of this.listeners) l(line, stream);
  }

  on(listener: LineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/**
 * Resolves when something listens on host:port; rejects with `gone()`'s reason as soon as the
 * instance has ended, or after `timeoutMs`.
 */
export async function waitForListener(
  port: number,
  host: string,
  timeoutMs: number,
  gone: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const reason = gone();
    if (reason) throw new Error(reason);
    if (await canConnect(port, host)) return;
    if (Date.now() > deadline) throw new Error(`did not listen on ${host}:${port} within ${Math.round(timeoutMs / 1000)}s`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
