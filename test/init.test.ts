import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JAVA_AGENT_JAR } from '../src/runtime/agents.js';
import { ROOT, runCli } from './helpers/cli.js';
import OSS from 'ali-oss';
import { startServer, TEST_CREDENTIALS } from './helpers/server.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { localhostFetch } from './helpers/localhost-fetch.js';
import { scaled } from './helpers/time-scale.js';

// `fc-local init` for every template: the project validates and answers as its template says.

const TEMPLATES = readdirSync(path.join(ROOT, 'templates')).filter((d) => existsSync(path.join(ROOT, 'templates', d, 'template.json')));
const hasJdk = (await execa('javac', ['-version'], { reject: false })).exitCode === 0 && existsSync(JAVA_AGENT_JAR);

interface Check {
  invoke?: { event: string; expect: string };
  http?: { path: string; host?: string; expect: string };
  /** An MCP server: its tools, listed by the official SDK's client over Streamable HTTP. */
  mcp?: { path: string; host: string; tools: string[] };
  /** Upload to the local OSS, then read what the function wrote. */
  ossUpload?: { bucket: string; key: string; body: string; expectKey: string; expect: string };
  java?: boolean;
}

function get(port: number, host: string, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, headers: { host } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** What `mvn package` would do, with the JDK alone: compile against fc-local's fc-java-core types, jar it. */
async function buildJava(dir: string, name: string): Promise<void> {
  const classes = path.join(dir, 'target', 'classes');
  mkdirSync(classes, { recursive: true });
  await execa('javac', ['-cp', JAVA_AGENT_JAR, '-d', classes, path.join(dir, 'src/main/java/example/App.java')]);
  await execa('jar', ['cf', path.join(dir, 'target', `${name}.jar`), '-C', classes, '.']);
}

describe('fc-local init', () => {
  it('lists every template with runtime and trigger', async () => {
    const r = await runCli(['init', '--list']);
    for (const t of TEMPLATES) expect(r.stdout).toMatch(new RegExp(`^${t}\\s+\\S+\\s+\\S+\\s+`, 'm'));
  });

  it.each(TEMPLATES)('creates a %s project that validates and answers as documented', async (template) => {
    const check = (JSON.parse(readFileSync(path.join(ROOT, 'templates', template, 'template.json'), 'utf8')) as { check: Check }).check;
    if (check.java && !hasJdk) return; // needs a JDK and the built Java agent
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'fc-local-init-')), 'app');
    const name = `fn-${template.replace(/[^a-z0-9]/g, '')}`.slice(0, 30);
    const init = await runCli(['init', dir, '--template', template, '--name', name]);
    expect(init.exitCode, String(init.stderr)).toBe(0);
    expect(init.stdout).toMatch(/Next:\n {2}cd /);
    expect(readFileSync(path.join(dir, 'README.md'), 'utf8').split('\n').filter(Boolean).length).toBeLessThanOrEqual(3);
    expect(existsSync(path.join(dir, '.fcignore'))).toBe(true);
    if (check.java) await buildJava(dir, name);
    const valid = await runCli(['validate'], { cwd: dir });
    expect(valid.exitCode, String(valid.stderr)).toBe(0);
    if (check.invoke) {
      const r = await runCli(['invoke', name, '--event', check.invoke.event, '--backend', 'process'], { cwd: dir });
      expect(String(r.stdout)).toBe(check.invoke.expect);
    } else if (check.ossUpload) {
      const u = check.ossUpload;
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--backend', 'process']);
      try {
        const endpoint = /oss {10}(http:\/\/\S+)/.exec(srv.output())![1]!;
        const oss = new OSS({ endpoint, accessKeyId: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_ID, accessKeySecret: TEST_CREDENTIALS.ALIBABA_CLOUD_ACCESS_KEY_SECRET, bucket: u.bucket });
        await oss.put(u.key, Buffer.from(u.body));
        await srv.waitFor(new RegExp(`${u.key} -> ${u.expectKey}`));
        expect((await oss.get(u.expectKey)).content.toString()).toBe(u.expect);
      } finally {
        await srv.stop();
      }
    } else if (check.mcp) {
      // Its build step installs the MCP SDK from the registry (npm's cache, in CI) before it starts.
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', '--backend', 'process']);
      try {
        const client = new Client({ name: 'fc-local-init-test', version: '1.0.0' });
        await client.connect(new StreamableHTTPClientTransport(new URL(`http://${check.mcp.host.replaceAll('{{name}}', name)}:${srv.port}${check.mcp.path}`), { fetch: localhostFetch }));
        try {
          expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([...check.mcp.tools].sort());
          await client.callTool({ name: 'remember', arguments: { note: 'kept in this session' } });
          const recalled = await client.callTool({ name: 'recall' });
          expect((recalled.content as { text: string }[])[0]!.text).toBe('kept in this session');
        } finally {
          await client.close();
        }
      } finally {
        await srv.stop();
      }
    } else if (check.http) {
      const srv = await startServer(['-t', path.join(dir, 'fc.yml'), '--no-auth', '--backend', 'process']);
      try {
        const host = check.http.host ? check.http.host.replaceAll('{{name}}', name) : '127.0.0.1';
        expect(await get(srv.port, host, check.http.path.replaceAll('{{name}}', name))).toBe(check.http.expect.replaceAll('{{name}}', name));
      } finally {
        await srv.stop();
      }
    }
  }, scaled(60_000));

  it('writes the s.yaml form of an FC 3.0 template', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'fc-local-init-')), 'app');
    await runCli(['init', dir, '--template', 'nodejs-fc3-http', '--name', 'web', '--format', 's.yaml']);
    expect(readdirSync(dir).sort()).toEqual(['.fcignore', 'README.md', 'code', 's.yaml']);
    expect((await runCli(['validate'], { cwd: dir })).stdout).toMatch(/Serverless Devs s\.yaml format/);
  });

  it('changes the runtime within the language, and refuses another language', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'fc-local-init-')), 'app');
    await runCli(['init', dir, '--template', 'nodejs-event', '--runtime', 'nodejs20']);
    expect(readFileSync(path.join(dir, 'fc.yml'), 'utf8')).toContain('runtime: nodejs20');
    const bad = await runCli(['init', path.join(dir, '..', 'other'), '--template', 'nodejs-event', '--runtime', 'python3']);
    expect(bad.exitCode).toBe(2);
  });

  it('refuses a non-empty folder unless --force, and then says what it replaced', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-init-'));
    writeFileSync(path.join(dir, 'fc.yml'), 'mine');
    const refused = await runCli(['init', dir, '--template', 'nodejs-event']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/is not empty: .*--force/);
    expect(readFileSync(path.join(dir, 'fc.yml'), 'utf8')).toBe('mine');
    const forced = await runCli(['init', dir, '--template', 'nodejs-event', '--force']);
    expect(forced.stdout).toMatch(/^replaced .*fc\.yml$/m);
  });

  it('asks for --template when there is no terminal to ask in', async () => {
    const r = await runCli(['init', path.join(mkdtempSync(path.join(os.tmpdir(), 'fc-local-init-')), 'x')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/say which template with --template/);
  });
});
