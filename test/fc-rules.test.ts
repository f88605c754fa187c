import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTemplate } from '../src/template/load.js';

// Rules no stricter than FC's, each for its era: what FC accepts, fc-local accepts; what FC
// refuses, fc-local refuses with FC's bound in the message.

function load(text: string, name = 'fc.yml') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fc-local-rules-'));
  mkdirSync(path.join(dir, 'code'));
  writeFileSync(path.join(dir, 'code', 'index.js'), 'exports.handler = (e, c, cb) => cb(null, "ok");\n');
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return loadTemplate(file);
}
const messages = (r: ReturnType<typeof load>) => r.errors.map((e) => e.message);

describe('rules as FC has them', () => {
  it('instanceConcurrency: up to 200 for FC 3.0 functions, up to 100 in an FC 2.0 service', () => {
    const fc3 = load('functions:\n  f: { runtime: custom.debian10, handler: index.handler, codeUri: ./code, instanceConcurrency: 200 }\n');
    expect(messages(fc3)).toEqual([]);
    expect(fc3.template!.services[0]!.functions[0]!.instanceConcurrency).toBe(200);
    const s3 = load(
      'edition: 3.0.0\nname: x\nresources:\n  f:\n    component: fc3\n    props: { region: cn-hangzhou, functionName: f, runtime: custom.debian10, code: ./code, handler: index.handler, instanceConcurrency: 200 }\n',
      's.yaml',
    );
    expect(messages(s3)).toEqual([]);
    expect(messages(load('functions:\n  f: { runtime: custom, handler: index.handler, codeUri: ./code, instanceConcurrency: 201 }\n')).join('\n')).toMatch(/instanceConcurrency must be between 1 and 200/);
    const fc2 = load('services:\n  s:\n    functions:\n      f: { runtime: custom, handler: index.handler, codeUri: ./code, instanceConcurrency: 150 }\n');
    expect(messages(fc2).join('\n')).toMatch(/instanceConcurrency must be 1-100 in an FC 2.0 service \(FC 3.0 functions allow 200\) \(got 150\)/);
  });

  it("HTTP triggers take PATCH and OPTIONS (CORS preflight, Streamable HTTP), and still refuse what FC has not", () => {
    const r = load('services:\n  s:\n    functions:\n      f:\n        { runtime: nodejs18, handler: index.handler, codeUri: ./code, triggers: { web: { type: http, config: { methods: [GET, POST, PATCH, OPTIONS, options] } } } }\n');
    expect(messages(r)).toEqual([]);
    const trigger = r.template!.services[0]!.functions[0]!.triggers[0]!;
    expect(trigger.type === 'http' && trigger.config.methods).toEqual(['GET', 'POST', 'PATCH', 'OPTIONS', 'OPTIONS']);
    expect(messages(load('services:\n  s:\n    functions:\n      f: { runtime: nodejs18, handler: index.handler, codeUri: ./code, triggers: { web: { type: http, config: { methods: [TRACE] } } } }\n')).join('\n')).toMatch(/got "TRACE"/);
  });

  it('fc3-domain routes name a function and no service (FC 3.0 has none)', () => {
    const r = load(
      'edition: 3.0.0\nname: x\nresources:\n  f:\n    component: fc3\n    props: { region: cn-hangzhou, functionName: f, runtime: nodejs18, code: ./code, handler: index.handler, triggers: [{ triggerName: http, triggerType: http, triggerConfig: { authType: anonymous, methods: [GET] } }] }\n' +
        '  domain:\n    component: fc3-domain\n    props: { region: cn-hangzhou, domainName: auto, protocol: HTTP, routeConfig: { routes: [{ path: /*, functionName: f }] } }\n',
      's.yaml',
    );
    expect(messages(r)).toEqual([]);
    expect(r.template!.customDomains[0]!.routes[0]).toMatchObject({ path: '/*', serviceName: '', functionName: 'f' });
  });

  it('an FC 2.0 custom-container function needs no handler; other runtimes still do', () => {
    const r = load('services:\n  s:\n    functions:\n      c: { runtime: custom-container, customContainerConfig: { image: my/app:1 } }\n');
    expect(messages(r)).toEqual([]);
    // Its image is what it runs: FC requires it.
    expect(messages(load('services:\n  s:\n    functions:\n      c: { runtime: custom-container, codeUri: ./code }\n'))).toEqual(["function 's/c': a custom-container function needs customContainerConfig.image"]);
    expect(messages(load('services:\n  s:\n    functions:\n      f: { runtime: nodejs18, codeUri: ./code }\n'))).toEqual(["function 's/f': handler is required"]);
  });

  it('reads customContainerConfig from s.yaml (fc3 and fc) and CustomContainerConfig from template.yml', () => {
    const fc3 = load(
      'edition: 3.0.0\nname: x\nresources:\n  web:\n    component: fc3\n    props:\n      region: cn-hangzhou\n      functionName: web\n      runtime: custom-container\n      customContainerConfig:\n        image: registry.cn-hangzhou.aliyuncs.com/me/web:1\n        entrypoint: [node]\n        command: [server.js]\n        port: 8080\n        healthCheckConfig: { httpGetUrl: /ready, initialDelaySeconds: 1, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 5, successThreshold: 1 }\n',
      's.yaml',
    );
    expect(messages(fc3)).toEqual([]);
    const web = fc3.template!.services[0]!.functions[0]!;
    expect(web.caPort).toBe(8080);
    expect(web.container).toEqual({ image: 'registry.cn-hangzhou.aliyuncs.com/me/web:1', entrypoint: ['node'], command: ['server.js'], healthCheck: { httpGetUrl: '/ready', initialDelaySeconds: 1, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 5, successThreshold: 1 } });
    const fc2 = load(
      'edition: 1.0.0\nname: x\nservices:\n  app:\n    component: devsapp/fc\n    props:\n      region: cn-hangzhou\n      service: { name: s }\n      function: { name: c, runtime: custom-container, caPort: 9000, customContainerConfig: { image: me/app:1, command: \'["node"]\', args: \'["index.js"]\' } }\n',
      's.yaml',
    );
    expect(messages(fc2)).toEqual([]);
    expect(fc2.template!.services[0]!.functions[0]!.container).toEqual({ image: 'me/app:1', command: ['node', 'index.js'] });
    const ros = load(
      "ROSTemplateFormatVersion: '2015-09-01'\nTransform: 'Aliyun::Serverless-2018-04-03'\nResources:\n  s:\n    Type: 'Aliyun::Serverless::Service'\n    c:\n      Type: 'Aliyun::Serverless::Function'\n      Properties:\n        Runtime: custom-container\n        CAPort: 8000\n        CustomContainerConfig: { Image: 'me/app:2', Command: '[\"python3\"]', Args: '[\"app.py\"]' }\n",
      'template.yml',
    );
    expect(messages(ros)).toEqual([]);
    expect(ros.template!.services[0]!.functions[0]!).toMatchObject({ caPort: 8000, container: { image: 'me/app:2', command: ['python3', 'app.py'] } });
    // FC 2.0's command is a JSON array in a string: anything else says so.
    expect(messages(load("services:\n  s:\n    functions:\n      c: { runtime: custom-container, customContainerConfig: { image: a, command: 'node x' } }\n")).join('\n')).toMatch(/a command is a list of strings, or FC 2\.0's JSON array in a string/);
  });

  it("takes the fc component's role as a mapping ({name, policies})", () => {
    const r = load(
      'edition: 1.0.0\nname: x\nservices:\n  app:\n    component: devsapp/fc\n    props:\n      region: cn-hangzhou\n      service: { name: s, role: { name: fc-role, policies: [AliyunOSSFullAccess] } }\n      function: { name: f, runtime: nodejs18, codeUri: ./code, handler: index.handler }\n',
      's.yaml',
    );
    expect(messages(r)).toEqual([]);
    expect(r.template!.services[0]!.role).toBe('fc-role');
  });

  it('resolves ${this.props.*} whose value holds variables of its own, in layers too', () => {
    const r = load(
      'edition: 3.0.0\nname: x\nvars: { region: cn-shanghai }\nresources:\n  f:\n    component: fc3\n    props:\n      region: ${vars.region}\n      functionName: f\n      runtime: nodejs18\n      code: ./code\n      handler: index.handler\n      layers: ["acs:fc:${this.props.region}:official:layers/Nodejs-Puppeteer17x/versions/2"]\n',
      's.yaml',
    );
    expect(messages(r)).toEqual([]);
    expect(r.template!.services[0]!.functions[0]!.layers).toEqual([{ arn: 'acs:fc:cn-shanghai:official:layers/Nodejs-Puppeteer17x/versions/2' }]);
    const loop = load('edition: 3.0.0\nname: x\nresources:\n  f:\n    component: fc3\n    props: { region: "${this.props.region}", functionName: f, runtime: nodejs18, code: ./code, handler: index.handler }\n', 's.yaml');
    expect(messages(loop).join('\n')).toMatch(/refers to itself/);
  });
});
