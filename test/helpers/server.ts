import { execa, type ResultPromise } from 'execa';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT } from './cli.js';
import { scaled } from './time-scale.js';

export interface RunningServer {
  base: string;
  port: number;
  /** Everything the server printed so far. */
  output(): string;
  /**
   * Resolves when the output from `from` on (default: all of it) matches `re`, or rejects after
   * `ms`. A match may span lines, within 64 KB of output: each scan starts near where the last
   * one ended, so that waiting stays linear in what the server prints.
   */
  waitFor(re: RegExp, ms?: number, from?: number): Promise<string>;
  stop(): Promise<{ exitCode?: number; output: string }>;
  proc: ResultPromise;
}

/** How far back a new scan for a wait reaches (see waitFor). */
const SCAN_WINDOW = 64 * 1024;

export const TEST_CREDENTIALS = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: 'test-key-id',
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'test-key-secret',
};

/** Runs the real `fc-local start` on a free port and waits for its banner. */
export async function startServer(args: string[], env: Record<string, string> = {}): Promise<RunningServer> {
  // Each server keeps its async journal in a folder of its own unless the test shares one on purpose.
  const state = args.includes('--state-dir') ? [] : ['--state-dir', mkdtempSync(path.join(os.tmpdir(), 'fc-local-state-'))];
  const proc = execa('node', [BIN, 'start', '--port', '0', ...state, ...args], {
    cwd: ROOT,
    env: { ...TEST_CREDENTIALS, ...env },
    reject: false,
    all: true,
    buffer: false,
  });
  let out = '';
  const waiters = new Set<() => void>();
  proc.all!.on('data', (d: Buffer) => {
    out += d.toString();
    waiters.forEach((w) => w());
  });
  const waitFor = (re: RegExp, ms = scaled(20_000), from = 0) =>
    new Promise<string>((resolve, reject) => {
      const sticky = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
      let scanFrom = from;
      const check = () => {
        sticky.lastIndex = scanFrom;
        const m = sticky.exec(out);
        // The next scan starts at a line that begins at most SCAN_WINDOW before the end.
        if (!m && out.length > SCAN_WINDOW) scanFrom = Math.max(scanFrom, out.lastIndexOf('\n', out.length - SCAN_WINDOW) + 1);
        if (m) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m[0]);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${re} in output:\n${out}`));
      }, ms);
      waiters.add(check);
      check();
    });
  const exited = proc.then((r) => r);
  const banner = await Promise.race([
    waitFor(/listening on (http:\/\/[^ ]+)/),
    exited.then((r) => {
      throw new Error(`fc-local start exited (${r.exitCode}):\n${out}`);
    }),
  ]);
  const base = /listening on (http:\/\/[^ ]+)/.exec(banner)![1]!;
  return {
    base,
    port: Number(new URL(base).port),
    output: () => out,
    waitFor,
    proc,
    stop: async () => {
      proc.kill('SIGINT');
      const r = await exited;
      return { exitCode: r.exitCode, output: out };
    },
  };
}
