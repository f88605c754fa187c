import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { fixture } from './helpers/cli.js';

// /_fc-local/api/openapi.json is a valid OpenAPI document, and every operation it lists answers
// as it says: each is called here and its answer checked against the documented schema.

// CommonJS packages: the class (and function) is `.default` under Node's ESM interop.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default;

type Operation = { responses: Record<string, { content?: Record<string, { schema: object }> }> };

describe('the workbench API described in OpenAPI', () => {
  it('validates, and every documented operation answers as described', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-openapi-'));
    cpSync(fixture('clock'), dir, { recursive: true });
    await using fc = await startEmulator({ template: path.join(dir, 'fc.yml'), backend: 'process', clock: 'manual' });
    const doc = (await (await fc.fetch('/_fc-local/api/openapi.json')).json()) as { paths: Record<string, Record<string, Operation>> };
    await SwaggerParser.validate(structuredClone(doc) as never);
    const deref = doc;

    // Something to list and replay.
    await fc.invoke('clock/audit', JSON.stringify({ responsePayload: 'x' }));
    await fetch(`${fc.oss.endpoint}/notes`, { method: 'PUT' });
    await fetch(`${fc.oss.endpoint}/notes/a.txt`, { method: 'PUT', body: 'a' });
    const requestId = ((await (await fc.fetch('/_fc-local/api/invocations')).json()) as { requestId: string }[])[0]!.requestId;
    const archive = Buffer.from(await (await fc.fetch('/_fc-local/api/state')).arrayBuffer());

    // A request for each operation: path parameters filled in, a body where one is needed.
    const calls: Record<string, { path?: string; body?: BodyInit; type?: string; status: number }> = {
      'get /': { status: 200 },
      'get /openapi.json': { status: 200 },
      'get /functions': { status: 200 },
      'get /invocations': { path: '/invocations?limit=5', status: 200 },
      'get /invocations/cursor': { status: 200 },
      'get /invocations/next': { path: '/invocations/next?after=0&function=clock/audit', status: 200 },
      'get /invocations/{id}': { path: `/invocations/${requestId}`, status: 200 },
      'post /invocations/{id}/replay': { path: `/invocations/${requestId}/replay`, status: 200 },
      'get /invocations/{id}/chain': { path: `/invocations/${requestId}/chain`, status: 200 },
      'get /idle': { path: '/idle?timeout=10000', status: 200 },
      'post /invoke': { body: JSON.stringify({ function: 'clock/audit', event: JSON.stringify({ responsePayload: 'y' }) }), type: 'application/json', status: 200 },
      'get /event-templates': { status: 200 },
      'post /events/{type}': { path: '/events/timer', body: JSON.stringify({ service: 'clock', function: 'tick', trigger: 'hourly' }), type: 'application/json', status: 200 },
      'get /logs': { status: 200 },
      'get /series': { status: 200 },
      'get /stream': { status: 200 },
      'get /oss': { status: 200 },
      'get /oss/activity': { status: 200 },
      'get /oss/buckets/{bucket}/objects': { path: '/oss/buckets/notes/objects?prefix=', status: 200 },
      'get /oss/buckets/{bucket}/object': { path: '/oss/buckets/notes/object?key=a.txt', status: 200 },
      'put /oss/buckets/{bucket}/object': { path: '/oss/buckets/notes/object?key=b.txt', body: 'b', type: 'application/octet-stream', status: 200 },
      'delete /oss/buckets/{bucket}/object': { path: '/oss/buckets/notes/object?key=b.txt', status: 200 },
      'get /clock': { status: 200 },
      'post /clock/advance': { body: JSON.stringify({ by: '1s' }), type: 'application/json', status: 200 },
      'post /clock/set': { body: JSON.stringify({ to: '2026-01-01T00:00:00Z' }), type: 'application/json', status: 200 },
      'get /state': { status: 200 },
      'put /state': { body: archive, type: 'application/gzip', status: 200 },
      'delete /state': { status: 200 },
    };
    const documented = Object.entries(deref.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect([...documented].sort()).toEqual(Object.keys(calls).sort());
    // The state's load and reset last: they empty the history the others read.
    const order = [...documented.filter((k) => !/^(put|delete) \/state$/.test(k)), 'put /state', 'delete /state'];

    // Schemas by reference into the document itself (the chain's schema is recursive).
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(doc as object, 'api');
    const esc = (seg: string) => encodeURIComponent(seg.replace(/~/g, '~0').replace(/\//g, '~1'));
    const schemaAt = (p: string, method: string, status: string, type: string) => ({ $ref: `api#/paths/${esc(p)}/${method}/responses/${status}/content/${esc(type)}/schema` });
    for (const key of order) {
      const [method, p] = key.split(' ') as [string, string];
      const call = calls[key]!;
      const res = await fc.fetch(`/_fc-local/api${call.path ?? p}`, { method: method.toUpperCase(), ...(call.body ? { body: call.body, headers: { 'content-type': call.type! } } : {}) });
      expect(res.status, key).toBe(call.status);
      const response = deref.paths[p]![method]!.responses[String(res.status)]!;
      const type = Object.keys(response.content ?? {})[0]!;
      expect(res.headers.get('content-type') ?? '', key).toContain(type === 'text/event-stream' ? 'text/event-stream' : type.split('/')[1]!.replace('octet-stream', ''));
      if (type === 'text/event-stream') {
        await res.body?.cancel();
        continue;
      }
      if (type !== 'application/json') {
        await res.arrayBuffer();
        continue;
      }
      const body: unknown = await res.json();
      const validate = ajv.compile(schemaAt(p, method, String(res.status), type));
      expect(validate(body), `${key}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    // The checks bite: an answer missing what the document requires fails them.
    expect(ajv.compile(schemaAt('/clock', 'get', '200', 'application/json'))({ now: 'x' })).toBe(false);
    expect(ajv.compile(schemaAt('/invocations/{id}/chain', 'get', '200', 'application/json'))({ requestId: 'r', function: 'f', source: 'api', attempts: [], writes: [], children: [{}] })).toBe(false);
    // And an error answer as described: an unknown invocation.
    const missing = await fc.fetch('/_fc-local/api/invocations/nope');
    expect(missing.status).toBe(404);
    expect(ajv.compile(schemaAt('/invocations/{id}', 'get', '404', 'application/json'))(await missing.json())).toBe(true);
  });
});
