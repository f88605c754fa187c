import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util.js';
import { EXIT, UsageError } from './errors.js';
import { registerValidate } from './validate.js';
import { registerInvoke } from './invoke.js';
import { registerStart } from './start.js';
import { registerEvents } from './events.js';
import { registerInit } from './init.js';
import { registerDebugConfig } from './debug-config.js';
import { registerBuild } from './build.js';
import { registerImage } from './image.js';
import { registerState } from './state.js';

const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('fc-local')
    .description('Run, debug and test Alibaba Cloud Function Compute functions on your machine.')
    .version(pkg.version)
    .showSuggestionAfterError()
    .exitOverride();
  program.addHelpText(
    'after',
    `
Examples:
  $ fc-local init my-app --template nodejs-http   start a new project (fc-local init --list)
  $ fc-local validate -t fc.yml          check a template, errors as file:line:col
  $ fc-local start -t fc.yml.example       serve the invoke API and HTTP triggers on 127.0.0.1:8000
  $ fc-local invoke demo/hello -e event.json
  $ fc-local start -d 9229 --debug-function demo/hello   stop at breakpoints (fc-local debug-config vscode)
  $ fc-local events generate oss | fc-local invoke demo/on-events -e -
`,
  );
  registerValidate(program);
  registerStart(program);
  registerInvoke(program);
  registerEvents(program);
  registerInit(program);
  registerDebugConfig(program);
  registerBuild(program);
  registerImage(program);
  registerState(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `fc-local events generate oss | head -1`: a reader that closes early is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; real usage errors were already printed.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
      return;
    }
    if (err instanceof UsageError) {
      console.error(`fc-local: ${err.message}`);
      process.exitCode = EXIT.usage;
      return;
    }
    throw err;
  }
}
