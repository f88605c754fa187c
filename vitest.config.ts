import { defineConfig } from 'vitest/config';
import { measureTimeScale, shareTimeScale } from './test/helpers/time-scale.js';

// Limits are scaled by how fast this machine starts node and a container (test/helpers/time-scale.ts).
const scale = measureTimeScale(process.env.FC_LOCAL_RUNTIME_IMAGE ?? 'fc-local/runtime:offline-6');
shareTimeScale(scale);
console.log(`time scale ${scale.factor}x (node -e 0: ${scale.nodeMs} ms; one container: ${scale.containerMs ?? '-'} ms)`);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'docs/examples/**/*.test.ts'],
    testTimeout: Math.round(30_000 * scale.factor),
    hookTimeout: Math.round(60_000 * scale.factor),
    // Integration tests spawn real processes and containers; keep parallelism within 2 cores.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
