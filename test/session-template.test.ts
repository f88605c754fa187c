import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTemplateText } from '../src/template/load.js';

// sessionAffinity and sessionAffinityConfig as FC 3.0 takes them (s.yaml, fc.yml, and the API's
// JSON text), with FC's defaults, and mistakes reported at their position.

const sYaml = (props: string) => `edition: 3.0.0
name: t
resources:
  f:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: f
      runtime: custom.debian10
      code: ./code
      instanceConcurrency: 10
${props
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-session-tpl-'));
mkdirSync(path.join(dir, 'code'));
const load = (text: string, name = 's.yaml') => loadTemplateText(path.join(dir, name), text);

describe('session affinity in templates', () => {
  it('takes each type with FC defaults, sessionAffinityConfig as a mapping or JSON text, COOKIE as GENERATED_COOKIE', () => {
    const header = load(sYaml('sessionAffinity: HEADER_FIELD\nsessionAffinityConfig:\n  affinityHeaderFieldName: My-Session\n  sessionConcurrencyPerInstance: 5'));
    expect(header.errors ?? []).toEqual([]);
    expect(header.template!.services[0]!.functions[0]!.session).toEqual({ type: 'HEADER_FIELD', headerName: 'my-session', perInstance: 5, idleTimeoutSeconds: 1800, ttlSeconds: 21_600, disableIdReuse: false, exclusive: false });
    const sse = load(sYaml(`sessionAffinity: MCP_SSE\nsessionAffinityConfig: '{"sseEndpointPath": "/events", "sessionConcurrencyPerInstance": 50}'`));
    // At most as many sessions as requests an instance takes.
    expect(sse.template!.services[0]!.functions[0]!.session).toMatchObject({ type: 'MCP_SSE', ssePath: '/events', perInstance: 10 });
    const cookie = load(sYaml('sessionAffinity: cookie\ninstanceIsolationMode: SESSION_EXCLUSIVE'));
    expect(cookie.template!.services[0]!.functions[0]!.session).toMatchObject({ type: 'GENERATED_COOKIE', perInstance: 1, exclusive: true });
    const none = load(sYaml('sessionAffinity: NONE'));
    expect(none.template!.services[0]!.functions[0]!.session).toBeUndefined();
    const fcYml = load(`services:
  svc:
    functions:
      f:
        runtime: nodejs18
        handler: index.handler
        codeUri: ./code
        sessionAffinity: MCP_STREAMABLE_HTTP
`, 'fc.yml');
    expect(fcYml.template!.services[0]!.functions[0]!.session).toMatchObject({ type: 'MCP_STREAMABLE_HTTP', perInstance: 1 });
  });

  it('reports an unknown type, a missing or malformed header name, bad JSON and out-of-range numbers at their position', () => {
    const at = (text: string) => (load(text).errors ?? []).map((e) => `${e.line}:${e.col} ${e.message}`);
    expect(at(sYaml('sessionAffinity: STICKY'))).toEqual([expect.stringMatching(/^12:\d+ .*sessionAffinity must be one of NONE, HEADER_FIELD, GENERATED_COOKIE, MCP_SSE, MCP_STREAMABLE_HTTP \(got "STICKY"\)/)]);
    expect(at(sYaml('sessionAffinity: HEADER_FIELD'))).toEqual([expect.stringMatching(/needs sessionAffinityConfig\.affinityHeaderFieldName/)]);
    expect(at(sYaml('sessionAffinity: HEADER_FIELD\nsessionAffinityConfig:\n  affinityHeaderFieldName: x-fc-mine'))).toEqual([expect.stringMatching(/^14:\d+ .*not start with x-fc-/)]);
    expect(at(sYaml(`sessionAffinity: GENERATED_COOKIE\nsessionAffinityConfig: '{nope'`))).toEqual([expect.stringMatching(/^13:\d+ .*sessionAffinityConfig must be a mapping or JSON text/)]);
    expect(at(sYaml('sessionAffinity: GENERATED_COOKIE\nsessionAffinityConfig:\n  sessionTTLInSeconds: 0'))).toEqual([expect.stringMatching(/^14:\d+ .*sessionTTLInSeconds must be between 1 and 21600/)]);
  });
});

describe('session affinity warnings', () => {
  it("names FC's conditions for MCP affinity: DELETE on the trigger, SSE on custom runtimes", () => {
    const text = `functions:
  f:
    runtime: custom.debian10
    handler: x
    codeUri: ./code
    sessionAffinity: MCP_STREAMABLE_HTTP
    triggers:
      web: { type: http, config: { authType: anonymous, methods: [GET, POST] } }
  g:
    runtime: nodejs18
    handler: index.handler
    codeUri: ./code
    sessionAffinity: MCP_SSE
`;
    const r = load(text, 'fc.yml');
    expect(r.errors).toEqual([]);
    expect(r.warnings!.map((w) => `${w.line} ${w.message}`)).toEqual([
      expect.stringMatching(/^6 warning: function 'f': MCP Streamable HTTP affinity needs GET, POST and DELETE/),
      expect.stringMatching(/^13 warning: function 'g': FC offers MCP SSE affinity on custom runtimes and containers only/),
    ]);
  });
});
