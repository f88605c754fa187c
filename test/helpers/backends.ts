import { dockerReady, RUNTIME_IMAGE } from './docker.js';

// The backends the shared suites run against: process always, Docker where an engine and the
// offline image are there (required in CI, see dockerReady). Core suites also run against a
// second engine over TCP (scripts/start-tcp-engine.sh, FC_LOCAL_TCP_ENGINE), which fc-local
// treats as remote: code copied in, never mounted.
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
if (!tcp && docker && process.env.FC_LOCAL_REQUIRE_DOCKER === '1') {
  throw new Error('CI runs the core suites on a TCP engine too: start one with scripts/start-tcp-engine.sh and set FC_LOCAL_TCP_ENGINE');
}
if (!tcp && docker) console.warn('\n!!! SKIPPING THE TCP ENGINE !!! FC_LOCAL_TCP_ENGINE is not set (scripts/start-tcp-engine.sh)\n');

/** BACKENDS and, where one is set up, Docker on a remote (TCP) engine. */
export const ENGINES: BackendUnderTest[] = [
  ...BACKENDS,
  ...(docker && tcp
    ? [{ name: 'docker' as const, label: 'docker on a TCP engine', args: ['--backend', 'docker', '--engine', tcp, '--image', RUNTIME_IMAGE], image: RUNTIME_IMAGE, engine: tcp, codeDir: () => '/code' }]
    : []),
];
