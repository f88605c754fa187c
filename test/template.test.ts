import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTemplate, loadTemplateText } from '../src/template/load.js';
import { parseSchedule, nextFire } from '../src/template/cron.js';
import { fixture, runCli } from './helpers/cli.js';

function tmpTemplate(text: string, name = 'fc.yml'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-tpl-'));
  mkdirSync(path.join(dir, 'code'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('fc-local validate', () => {
  it('accepts fc.yml.example', async () => {
    const r = await runCli(['validate', '-t', 'fc.yml.example']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/fc\.yml\.example: valid \(fc\.yml format, 1 services, 3 functions, 5 triggers\)/);
  });

  it('reports five mistakes at once, each as file:line:col, and exits 1', async () => {
    const r = await runCli(['validate', '-t', 'fixtures/templates/five-mistakes.yml']);
    expect(r.exitCode).toBe(1);
    const lines = String(r.stderr).trim().split('\n');
    expect(lines.slice(0, -1)).toEqual([
      expect.stringMatching(/^fixtures\/templates\/five-mistakes\.yml:6:18: function 'demo\/hello': runtime must be one of .*\(got "nodejs99"\)$/),
      "fixtures/templates/five-mistakes.yml:9:21: function 'demo/hello': memorySize must be 128-3072 MB in steps of 64 (got 100)",
      expect.stringMatching(/^fixtures\/templates\/five-mistakes\.yml:10:7: function name '1bad-name' must start with a letter/),
      expect.stringMatching(/^fixtures\/templates\/five-mistakes\.yml:18:31: trigger 'demo\/1bad-name\/tick': cronExpression '\* \* \*' is not valid: a cron expression has 6 fields/),
      'fixtures/templates/five-mistakes.yml:22:30: trigger \'demo/1bad-name/web\': method must be one of GET, POST, PUT, DELETE, HEAD, PATCH, OPTIONS (got "TRACE")',
    ]);
    expect(lines.at(-1)).toBe('5 errors in fixtures/templates/five-mistakes.yml');
  });

  it('gives a YAML syntax error its position and no stack trace', async () => {
    const r = await runCli(['validate', '-t', 'fixtures/templates/syntax-error.yml']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^fixtures\/templates\/syntax-error\.yml:6:1: YAML syntax error: All mapping items must start at the same column/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 with a clear message when there is no template', async () => {
    const r = await runCli(['validate'], { cwd: os.tmpdir() });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/no template found in .* \(looked for fc\.yml, fc\.yaml, template\.yml, template\.yaml, s\.yaml, s\.yml\); pass one with -t FILE/);
  });

  it('finds template.yml by default', async () => {
    const r = await runCli(['validate'], { cwd: fixture('templates/all-triggers') });
    // fc.yml comes first in the lookup order
    expect(r.stdout).toMatch(/^fc\.yml: valid/);
  });
});

describe('template loaders', () => {
  it('loads a Funcraft template.yml into the same model as the equivalent fc.yml', () => {
    const fc = loadTemplate(fixture('templates/all-triggers/fc.yml'));
    const ros = loadTemplate(fixture('templates/all-triggers/template.yml'));
    expect(fc.errors).toEqual([]);
    expect(ros.errors).toEqual([]);
    const strip = (t: typeof fc.template) => ({ ...t, file: undefined, format: undefined });
    expect(strip(ros.template)).toEqual(strip(fc.template));
    expect(ros.template!.format).toBe('funcraft');
    const worker = ros.template!.services[0]!.functions[1]!;
    expect(worker.triggers.map((t) => t.type)).toEqual(['timer', 'oss', 'log', 'cdn_events']);
    expect(ros.template!.services[0]!.functions[0]!.triggers[0]).toEqual({
      name: 'web',
      type: 'http',
      config: { authType: 'function', methods: ['GET', 'POST', 'PUT', 'DELETE', 'HEAD'] },
    });
    expect(ros.template!.services[0]!.functions[0]!.environmentVariables).toEqual({ STAGE: 'local', PORT: '8080' });
  });

  it('fills FC defaults and resolves codeUri against the template folder', () => {
    const file = tmpTemplate('services:\n  s:\n    functions:\n      f:\n        runtime: nodejs18\n        handler: index.handler\n        codeUri: ./code\n');
    const { template, errors } = loadTemplate(file);
    expect(errors).toEqual([]);
    expect(template!.services[0]!.functions[0]).toMatchObject({
      service: 's', name: 'f', timeout: 3, memorySize: 128, initializationTimeout: 3, instanceConcurrency: 1,
      codeUri: path.join(path.dirname(file), 'code'), environmentVariables: {}, triggers: [],
    });
  });

  it('points Funcraft errors at the Funcraft lines', () => {
    const file = tmpTemplate(
      [
        "ROSTemplateFormatVersion: '2015-09-01'",
        "Transform: 'Aliyun::Serverless-2018-04-03'",
        'Resources:',
        '  svc:',
        "    Type: 'Aliyun::Serverless::Service'",
        '    fn:',
        "      Type: 'Aliyun::Serverless::Function'",
        '      Properties:',
        '        Handler: index.handler',
        '        Runtime: nodejs18',
        '        CodeUri: ./code',
        '        MemorySize: 130',
        '      Events:',
        '        t:',
        '          Type: Log',
        '          Properties:',
        '            SourceConfig: {Logstore: s}',
        '            JobConfig: {MaxRetryTime: 101, TriggerInterval: 2}',
      ].join('\n'),
      'template.yml',
    );
    const { errors } = loadTemplate(file);
    expect(errors.map((e) => [e.line, e.col, e.message])).toEqual([
      [12, 21, "function 'svc/fn': memorySize must be 128-3072 MB in steps of 64 (got 130)"],
      [18, 39, "trigger 'svc/fn/t': maxRetryTime must be between 0 and 100"],
      [18, 61, "trigger 'svc/fn/t': triggerInterval must be between 3 and 600"],
    ]);
  });

  it('names unknown keys, suggests the right spelling, and flags FC limits', () => {
    const triggers = Array.from({ length: 11 }, (_, i) => `          t${i}: {type: timer, config: {cronExpression: '0 * * * * *'}}`).join('\n');
    const file = tmpTemplate(
      `services:\n  s:\n    functions:\n      f:\n        runtime: java8\n        handler: index.handler\n        codeUri: ./code\n        memorysize: 256\n        triggers:\n${triggers}\n          h1: {type: http, config: {methods: [GET]}}\n          h2: {type: http, config: {methods: [post]}}\n`,
    );
    const msgs = loadTemplate(file).errors.map((e) => `${e.line}:${e.col} ${e.message}`);
    expect(msgs).toEqual([
      "5:9 function 's/f': handler 'index.handler' must have the form {package}.{class}::{method} for java8",
      "8:9 function 's/f': unknown key 'memorysize' (did you mean 'memorySize'?)",
      "9:9 function 's/f': a function has at most 10 triggers (found 13)",
      "22:11 trigger 's/f/h2': a function has at most one HTTP trigger",
    ].map((m) => expect.stringContaining(m.slice(m.indexOf(' ') + 1))));
    expect(msgs[1]).toMatch(/^8:9 /);
  });

  it('accepts the guide\'s CDN filter spelling `{ "a", "b" }`', () => {
    const file = tmpTemplate(
      'services:\n  s:\n    functions:\n      f:\n        runtime: python3\n        handler: main.handler\n        codeUri: ./code\n        triggers:\n          cdn:\n            type: cdn_events\n            config:\n              eventName: LogFileCreated\n              eventVersion: "1.0.0"\n              filter:\n                domain: { "www.taobao.com" ," www.tmall.com" }\n',
    );
    const { template, errors } = loadTemplate(file);
    expect(errors).toEqual([]);
    expect(template!.services[0]!.functions[0]!.triggers[0]!.config).toEqual({
      eventName: 'LogFileCreated', eventVersion: '1.0.0', filter: { domain: ['www.taobao.com', 'www.tmall.com'] },
    });
  });

  it('rejects a document that is not a map', () => {
    expect(loadTemplateText('/x/fc.yml', '- a\n- b\n').errors[0]!.message).toMatch(/a template is a YAML map/);
  });
});

describe('FC cron expressions', () => {
  it('reads Quartz start/step and seconds like FC', () => {
    const s = parseSchedule('0 0/5 * * * *');
    expect(nextFire(s, new Date('2024-01-01T00:01:00Z'))!.toISOString()).toBe('2024-01-01T00:05:00.000Z');
    const every = parseSchedule('@every 1h30m');
    expect(every).toEqual({ kind: 'every', intervalMs: 90 * 60_000 });
    expect(nextFire(parseSchedule('0 1/1000 * * * *'), new Date('2024-01-01T00:00:00Z'))!.toISOString()).toBe('2024-01-01T00:01:00.000Z');
    expect(() => parseSchedule('0 0 25 * * *')).toThrow();
    expect(() => parseSchedule('@every 10s')).toThrow(/at least 1m/);
  });
});
