import { dockerReady, RUNTIME_IMAGE } from './docker.js';

// The backends the shared suites run against: process always, Docker where an engine and the
// offline image are there (required in CI, see dockerReady). Core suites also run against a
// second engine over TCP (scripts/start-tcp-engine.sh, FC_LOCAL_TCP_ENGINE), which fc-local
// treats as remote: code copied in, never mounted; and on Podman's Docker-compatible API
// (scripts/start-podman-engine.sh, FC_LOCAL_PODMAN_ENGINE).
export interface BackendUnderTest {
  name: 'process' | 'docker';
  /** How test titles name it. */
  label: string;
  /** CLI arguments that select it. */
  args: string[];
  image?: string;
  /** --engine, when not the default one. */
  engine?: string;
  /** Where a fixture's code dir is, as the instance sees it. */
  codeDir(hostDir: string): string;
}

const docker = await dockerReady();

export const BACKENDS: BackendUnderTest[] = [
  { name: 'process', label: 'process', args: ['--backend', 'process'], codeDir: (d) => d },
  ...(docker
    ? [{ name: 'docker' as const, label: 'docker', args: ['--backend', 'docker', '--image', RUNTIME_IMAGE], image: RUNTIME_IMAGE, codeDir: () => '/code' }]
    : []),
];

const tcp = process.env.FC_LOCAL_TCP_ENGINE;
const podman = process.env.FC_LOCAL_PODMAN_ENGINE;
for (const [value, name, script] of [[tcp, 'FC_LOCAL_TCP_ENGINE', 'scripts/start-tcp-engine.sh'], [podman, 'FC_LOCAL_PODMAN_ENGINE', 'scripts/start-podman-engine.sh']] as const) {
  if (value || !docker) continue;
  if (process.env.FC_LOCAL_REQUIRE_DOCKER === '1') throw new Error(`CI runs the core suites on this engine too: start it with ${script} and set ${name}`);
  console.warn(`\n!!! SKIPPING AN ENGINE !!! ${name} is not set (${script})\n`);
}

const onEngine = (label: string, engine: string): BackendUnderTest => ({
  name: 'docker',
  label,
  args: ['--backend', 'docker', '--engine', engine, '--image', RUNTIME_IMAGE],
  image: RUNTIME_IMAGE,
  engine,
  codeDir: () => '/code',
});

/** BACKENDS and, where they are set up, Docker on a remote (TCP) engine and on Podman. */
export const ENGINES: BackendUnderTest[] = [
  ...BACKENDS,
  ...(docker && tcp ? [onEngine('docker on a TCP engine', tcp)] : []),
  ...(docker && podman ? [onEngine('podman', podman)] : []),
];
