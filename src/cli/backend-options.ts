import type { Command } from 'commander';

/** The options of where instances run, shared by the commands that run functions (start, invoke). */
export function addBackendOptions(cmd: Command): Command {
  return cmd
    .option('--registry <prefix>', 'Docker backend: pull images through this registry or mirror, as <prefix>/<image> (FC_DOCKER_REGISTRY; fc-local.json "registry")')
    .option('--engine <address>', 'Docker backend: the container engine, as docker -H takes it (unix://, tcp://, ssh://); default: DOCKER_HOST, the docker context, then the usual sockets')
    .option('--remote', "Docker backend: the engine cannot see this machine's files (a VM or another machine): copy code into it rather than mount it (implied by a tcp:// or ssh:// engine)")
    .option('--pull <when>', 'Docker backend: pull images always, when missing (default) or never', 'missing')
    .option('--images <family>', "Docker backend: official language images (default) or fc, FC's own aliyunfc/runtime-<runtime> images (fc-local.json \"images\": \"fc\")")
    .option(
      '--start-timeout <seconds>',
      "how long a new instance may take to answer before its start fails (default: FC's 120 s for custom runtimes and custom containers, fc-local's own allowance for the other runtimes)",
    );
}

/** What addBackendOptions adds, as commander parses it. */
export interface BackendFlags {
  registry?: string;
  engine?: string;
  remote?: boolean;
  pull: string;
  images?: string;
  startTimeout?: string;
}
