import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { applyEdits, modify, parse } from 'jsonc-parser';
import { allFunctions, fnKey, type FunctionSpec, type Template } from '../model.js';
import { debuggerKind } from '../runtime/debug.js';

// IDE attach configurations for a function started under its debugger: VS Code's launch.json
// (merged, comments kept) and IntelliJ's shared run configurations.

export interface IdeRequest {
  template: Template;
  templateFile: string;
  /** Only these functions (default: every debuggable one). */
  fns?: FunctionSpec[];
  port: number;
  /** Docker sees the code at /code; the process backend where it is. */
  docker: boolean;
  print: boolean;
}

/** Whether a Docker engine answers, as `start --backend auto` would find one. */
export async function engineAnswers(): Promise<boolean> {
  const [{ engineClient }, { dockerAnswers }] = await Promise.all([import('../runtime/docker/engine.js'), import('../runtime/docker/backend.js')]);
  try {
    return await dockerAnswers(engineClient(), 1000);
  } catch {
    return false; // an engine address that cannot be used
  }
}

const configName = (fn: FunctionSpec) => `fc-local: ${fnKey(fn)}`;

/** The code folder as VS Code names it, relative to the workspace (the template's folder). */
function workspacePath(root: string, dir: string, variable: string): string {
  const rel = path.relative(root, dir);
  return rel.startsWith('..') || path.isAbsolute(rel) ? dir : rel ? `${variable}/${rel}` : variable;
}

function vscodeConfig(fn: FunctionSpec, req: IdeRequest, root: string): Record<string, unknown> | undefined {
  const local = workspacePath(root, fn.codeUri, '${workspaceFolder}');
  const remote = req.docker ? '/code' : local;
  const base = { name: configName(fn), request: 'attach' };
  switch (debuggerKind(fn)) {
    case 'node':
      // restart: a hot reload restarts the runtime under the inspector, and VS Code follows.
      return { ...base, type: 'node', address: '127.0.0.1', port: req.port, localRoot: local, remoteRoot: remote, restart: true, skipFiles: ['<node_internals>/**'] };
    case 'debugpy':
      return { ...base, type: 'debugpy', connect: { host: '127.0.0.1', port: req.port }, pathMappings: [{ localRoot: local, remoteRoot: remote }], justMyCode: true };
    case 'jdwp':
      return { ...base, type: 'java', hostName: '127.0.0.1', port: req.port };
    default:
      return undefined; // a custom runtime's debugger is the bootstrap's choice
  }
}

function intellijConfig(fn: FunctionSpec, req: IdeRequest, root: string): string | undefined {
  const name = configName(fn).replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  switch (debuggerKind(fn)) {
    case 'jdwp':
      return `<component name="ProjectRunConfigurationManager">
  <configuration default="false" name="${name}" type="Remote">
    <option name="USE_SOCKET_TRANSPORT" value="true" />
    <option name="SERVER_MODE" value="false" />
    <option name="HOST" value="127.0.0.1" />
    <option name="PORT" value="${req.port}" />
    <method v="2" />
  </configuration>
</component>
`;
    case 'node': {
      const mapping = req.docker ? `\n    <mappings>\n      <list>\n        <mapping local-file="${workspacePath(root, fn.codeUri, '$PROJECT_DIR$')}" url="file:///code" />\n      </list>\n    </mappings>` : '';
      return `<component name="ProjectRunConfigurationManager">
  <configuration default="false" name="${name}" type="ChromiumRemoteDebugType" factoryName="Chromium Remote" host="127.0.0.1" port="${req.port}" restartOnDisconnect="true">${mapping}
    <method v="2" />
  </configuration>
</component>
`;
    }
    default:
      return undefined;
  }
}

/** Writes (or prints) the configurations; returns what to tell the person. */
export function writeIdeConfigs(ide: 'vscode' | 'intellij', req: IdeRequest): string[] {
  const root = path.resolve(path.dirname(req.templateFile));
  const fns = req.fns ?? allFunctions(req.template);
  const skipped = fns.filter((f) => !(ide === 'vscode' ? vscodeConfig(f, req, root) : intellijConfig(f, req, root)));
  const lines: string[] = [];
  const where = req.docker ? 'the Docker backend (code at /code)' : 'the process backend';
  if (ide === 'vscode') {
    const configs = fns.map((f) => vscodeConfig(f, req, root)).filter((c): c is Record<string, unknown> => c !== undefined);
    if (req.print) return [JSON.stringify({ version: '0.2.0', configurations: configs }, null, 2)];
    const file = path.join(root, '.vscode', 'launch.json');
    let text = existsSync(file) ? readFileSync(file, 'utf8') : '{\n  "version": "0.2.0",\n  "configurations": []\n}\n';
    for (const c of configs) {
      const current = ((parse(text) as { configurations?: { name?: string }[] } | undefined)?.configurations ?? []) as { name?: string }[];
      const at = current.findIndex((x) => x.name === c.name);
      const edits = modify(text, ['configurations', at >= 0 ? at : current.length], c, {
        isArrayInsertion: at < 0,
        formattingOptions: { insertSpaces: true, tabSize: 2, eol: '\n' },
      });
      text = applyEdits(text, edits);
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    lines.push(`wrote ${configs.length} attach configuration(s) for ${where} to ${path.relative(process.cwd(), file)}: ${configs.map((c) => c.name as string).join(', ')}`);
  } else {
    const dir = path.join(root, '.idea', 'runConfigurations');
    const written: string[] = [];
    for (const f of fns) {
      const xml = intellijConfig(f, req, root);
      if (!xml) continue;
      if (req.print) {
        lines.push(xml);
        continue;
      }
      mkdirSync(dir, { recursive: true });
      const out = path.join(dir, `fc_local_${fnKey(f).replace(/[^A-Za-z0-9]+/g, '_')}.xml`);
      writeFileSync(out, xml);
      written.push(path.relative(process.cwd(), out));
    }
    if (req.print) return lines;
    lines.push(`wrote ${written.length} run configuration(s) for ${where}: ${written.join(', ')}`);
  }
  if (skipped.length) lines.push(`no ${ide} configuration for ${skipped.map((f) => `${fnKey(f)} (${f.runtime})`).join(', ')}: attach your debugger to 127.0.0.1:${req.port} yourself`);
  const first = fns.find((f) => !skipped.includes(f));
  if (first) lines.push(`then: fc-local start -d ${req.port} --debug-function ${fnKey(first)}, send it a request, and start "${configName(first)}"`);
  return lines;
}
