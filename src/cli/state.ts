import type { Command } from 'commander';
import { UsageError } from './errors.js';

// `fc-local state save <file> | load <file> | reset`: the state of a template's emulator (local
// OSS, async journal, workbench history) as one archive. While an fc-local serves that state it
// does the work (invocations finish first); otherwise the command works on the folders.

interface StateFlags {
  template?: string;
  stateDir?: string;
  ossDir?: string;
}

export function registerState(program: Command): void {
  const state = program.command('state').description("save, load or reset fc-local's state (local OSS, queued and finished async invocations, workbench history)");
  sub(state, 'save <file>', 'write the state to one archive (tar.gz)', 'save');
  sub(state, 'load <file>', "replace the state with an archive's; a corrupt or foreign one changes nothing", 'load');
  sub(state, 'reset', 'empty the state', 'reset');
}

function sub(state: Command, usage: string, description: string, what: 'save' | 'load' | 'reset'): void {
  state
    .command(usage)
    .description(description)
    .option('-t, --template <file>', 'template file (default: fc.yml, fc.yaml, template.yml, template.yaml)')
    .option('--state-dir <dir>', 'as given to start (default: .fc-local beside the template)')
    .option('--oss-dir <dir>', 'as given to start (default: .fc-local/oss beside the template)')
    .action((...args: unknown[]) => {
      const file = what === 'reset' ? undefined : (args[0] as string);
      return run(what, args[what === 'reset' ? 0 : 1] as StateFlags, file);
    });
}

async function run(what: 'save' | 'load' | 'reset', o: StateFlags, file?: string): Promise<void> {
  const [{ findTemplate, TemplateNotFoundError }, archive, fs] = await Promise.all([import('../template/load.js'), import('../emulator/state-archive.js'), import('node:fs/promises')]);
  let templateFile: string;
  try {
    templateFile = findTemplate(process.cwd(), o.template);
  } catch (err) {
    if (err instanceof TemplateNotFoundError) throw new UsageError(err.message);
    throw err;
  }
  const layout = archive.stateLayout(templateFile, o);
  const input = what === 'load' ? await fs.readFile(file!).catch((err: Error) => Promise.reject(new UsageError(`cannot read ${file}: ${err.message}`))) : undefined;
  const running = await runningEmulator(layout.running);
  try {
    if (running) {
      const res = await fetch(`${running.url}/_fc-local/api/state`, {
        method: what === 'save' ? 'GET' : what === 'load' ? 'PUT' : 'DELETE',
        headers: running.token ? { 'x-fc-local-token': running.token } : {},
        ...(input ? { body: input } : {}),
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { ErrorMessage?: string };
        throw new UsageError(res.status === 404 ? `the fc-local at ${running.url} serves no workbench API (--no-workbench): stop it, or restart it with the workbench` : (body.ErrorMessage ?? `the fc-local at ${running.url} answered ${res.status}`));
      }
      if (what === 'save') await fs.writeFile(file!, Buffer.from(await res.arrayBuffer()));
    } else if (what === 'save') await fs.writeFile(file!, await archive.packState(layout, templateFile));
    else if (what === 'load') archive.installState(await archive.unpackState(input!, layout.root), layout);
    else archive.clearState(layout);
  } catch (err) {
    if (err instanceof archive.StateArchiveError) throw new UsageError(`${file}: ${err.message}; the state is unchanged`);
    throw err;
  }
  const where = running ? ` (through the fc-local at ${running.url})` : '';
  console.log(what === 'save' ? `saved the state to ${file}${where}` : what === 'load' ? `loaded the state from ${file}${where}` : `reset the state${where}`);
}

/** The fc-local serving this state, if its marker names a live process. */
async function runningEmulator(marker: string): Promise<{ url: string; token?: string } | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    const m = JSON.parse(await readFile(marker, 'utf8')) as { pid: number; url: string; token?: string };
    process.kill(m.pid, 0);
    return m;
  } catch {
    return undefined;
  }
}
