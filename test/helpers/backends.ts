import { dockerReady, RUNTIME_IMAGE } from './docker.js';

// The backends the shared suites run against: process always, Docker where an engine and the
// offline image are there (required in CI, see dockerReady).
export interface BackendUnderTest {
  name: 'process' | 'docker';
  /** CLI arguments that select it. */
  args: string[];
  image?: string;
  /** Where a fixture's code dir is, as the instance sees it. */
  codeDir(hostDir: string): string;
}

const docker = await dockerReady();

export const BACKENDS: BackendUnderTest[] = [
  { name: 'process', args: ['--backend', 'process'], codeDir: (d) => d },
  ...(docker
    ? [{ name: 'docker' as const, args: ['--backend', 'docker', '--image', RUNTIME_IMAGE], image: RUNTIME_IMAGE, codeDir: () => '/code' }]
    : []),
];
