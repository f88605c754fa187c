import type { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util.js';
import { UsageError } from './errors.js';

// `fc-local init`: a new project from one of templates/: the template file, code, a three-line
// README and .fcignore, with the function named as asked. Nothing is overwritten silently.

export const TEMPLATES_DIR = path.join(packageRoot(), 'templates');

export interface TemplateManifest {
  name: string;
  description: string;
  runtime: string;
  trigger: string;
  formats: ('fc.yml' | 's.yaml')[];
}

export function listTemplates(): TemplateManifest[] {
  return readdirSync(TEMPLATES_DIR)
    .filter((d) => existsSync(path.join(TEMPLATES_DIR, d, 'template.json')))
    .sort()
    .map((d) => {
      const m = JSON.parse(readFileSync(path.join(TEMPLATES_DIR, d, 'template.json'), 'utf8')) as Omit<TemplateManifest, 'name' | 'formats'>;
      const formats = (['fc.yml', 's.yaml'] as const).filter((f) => existsSync(path.join(TEMPLATES_DIR, d, f)));
      return { name: d, description: m.description, runtime: m.runtime, trigger: m.trigger, formats };
    });
}

interface InitOptions {
  template?: string;
  name?: string;
  runtime?: string;
  format: string;
  list?: boolean;
  force?: boolean;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .argument('[dir]', 'folder of the new project', '.')
    .description('start a new function project from a template (fc-local init --list shows them)')
    .option('--template <name>', 'the template (asked when a terminal is there)')
    .option('--name <function>', 'name of the function', 'hello')
    .option('--runtime <runtime>', 'another runtime of the same language, e.g. nodejs20 or python3.12')
    .option('--format <format>', 'fc.yml, or s.yaml for the FC 3.0 templates that have one', 'fc.yml')
    .option('--list', 'list the templates: name, runtime, trigger')
    .option('--force', 'write into a folder that is not empty (files are replaced, each said)')
    .action(async (dir: string, opts: InitOptions) => {
      const templates = listTemplates();
      if (opts.list) {
        for (const t of templates) process.stdout.write(`${t.name.padEnd(18)} ${t.runtime.padEnd(10)} ${t.trigger.padEnd(6)} ${t.description}${t.formats.includes('s.yaml') ? ' (fc.yml or s.yaml)' : ''}\n`);
        return;
      }
      const chosen = opts.template ?? (await ask(templates));
      const t = templates.find((x) => x.name === chosen);
      if (!t) throw new UsageError(`no template '${chosen}' (fc-local init --list shows them)`);
      const name = opts.name ?? 'hello';
      if (!/^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/.test(name)) throw new UsageError(`--name must start with a letter or _, then letters, digits, _ or - (got ${name})`);
      if (!t.formats.includes(opts.format as 'fc.yml')) throw new UsageError(`template ${t.name} comes as ${t.formats.join(' or ')} (got --format ${opts.format})`);
      if (opts.runtime && opts.runtime.replace(/[\d.]+$/, '') !== t.runtime.replace(/[\d.]+$/, '')) {
        throw new UsageError(`--runtime ${opts.runtime} is not a runtime of this template's language (${t.runtime})`);
      }
      const target = path.resolve(dir);
      if (existsSync(target) && readdirSync(target).length && !opts.force) {
        throw new UsageError(`${dir} is not empty: pick a new folder, or pass --force to write into it`);
      }
      const written = copyTemplate(path.join(TEMPLATES_DIR, t.name), target, { name, runtime: opts.runtime, from: t.runtime, format: opts.format });
      for (const w of written) if (w.replaced) process.stdout.write(`replaced ${path.relative(process.cwd(), w.file) || w.file}\n`);
      const into = path.relative(process.cwd(), target) || '.';
      process.stdout.write(`created ${t.name} project in ${into} (${written.length} files)\n\nNext:\n${nextSteps(t, into, name)}\n`);
    });
}

async function ask(templates: TemplateManifest[]): Promise<string> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(`say which template with --template (no terminal to ask in): ${templates.map((t) => t.name).join(', ')}`);
  }
  const { select } = await import('@inquirer/prompts');
  return select({ message: 'Template', choices: templates.map((t) => ({ name: `${t.name}: ${t.description}`, value: t.name })) });
}

function copyTemplate(from: string, to: string, o: { name: string; runtime?: string; from: string; format: string }): { file: string; replaced: boolean }[] {
  const out: { file: string; replaced: boolean }[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(from, rel))) {
      const r = path.join(rel, entry);
      if (r === 'template.json') continue;
      // One template file: the format asked for.
      if ((r === 'fc.yml' && o.format !== 'fc.yml') || (r === 's.yaml' && o.format !== 's.yaml')) continue;
      const src = path.join(from, r);
      const st = statSync(src);
      if (st.isDirectory()) {
        walk(r);
        continue;
      }
      let text = readFileSync(src, 'utf8').replaceAll('{{name}}', o.name);
      if (o.runtime && (r === 'fc.yml' || r === 's.yaml')) text = text.replaceAll(`runtime: ${o.from}`, `runtime: ${o.runtime}`);
      const dest = path.join(to, r);
      mkdirSync(path.dirname(dest), { recursive: true });
      const replaced = existsSync(dest);
      writeFileSync(dest, text, { mode: st.mode & 0o777 });
      out.push({ file: dest, replaced });
    }
  };
  walk('');
  return out;
}

function nextSteps(t: TemplateManifest, dir: string, name: string): string {
  const cd = dir === '.' ? '' : `cd ${dir} && `;
  const manifest = JSON.parse(readFileSync(path.join(TEMPLATES_DIR, t.name, 'template.json'), 'utf8')) as { check: { invoke?: { event: string }; http?: { path: string; host?: string }; mcp?: { path: string; host: string }; java?: boolean } };
  const c = manifest.check;
  if (c.mcp) return `  ${cd}fc-local start
  then connect an MCP client (Streamable HTTP) to http://${c.mcp.host.replaceAll('{{name}}', name)}:8000${c.mcp.path}`;
  if (c.http) {
    const url = c.http.host ? `http://${c.http.host.replaceAll('{{name}}', name)}:8000${c.http.path}` : `http://127.0.0.1:8000${c.http.path.replaceAll('{{name}}', name)}`;
    return `  ${cd}fc-local start\n  curl ${url}`;
  }
  const build = c.java ? 'mvn package && ' : '';
  return `  ${cd}${build}fc-local invoke ${name} --event '${c.invoke?.event ?? ''}'\n  ${cd}fc-local start`;
}
