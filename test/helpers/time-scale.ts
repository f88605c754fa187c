import { execFileSync } from 'node:child_process';

// One time scale for the whole suite. Limits in tests are written for a reference machine
// (`node -e 0` in 60 ms, one container started and gone in 600 ms) and multiplied by how much
// slower this machine is, measured once when vitest loads its config (measureTimeScale) and
// handed to the workers in FC_LOCAL_TEST_SCALE. Tests wait for events; these limits only decide
// when a wait has failed.

const REFERENCE_NODE_MS = 60;
const REFERENCE_CONTAINER_MS = 600;
const SCALE_VAR = 'FC_LOCAL_TEST_SCALE';
const MAX_FACTOR = 8;

export interface TimeScale {
  factor: number;
  nodeMs: number;
  containerMs?: number;
}

function timed(run: () => void): number {
  const t0 = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** Measures this machine against the reference (never faster than it: the factor is at least 1). */
export function measureTimeScale(image: string): TimeScale {
  const nodeMs = median([0, 1, 2].map(() => timed(() => execFileSync(process.execPath, ['-e', '0']))));
  let containerMs: number | undefined;
  try {
    // The faster of two: the first start after the engine came up also warms its caches.
    const run = () => timed(() => execFileSync('docker', ['run', '--rm', '--network', 'none', image, 'true'], { stdio: 'ignore', timeout: 60_000 }));
    containerMs = Math.min(run(), run());
  } catch {
    // No engine or no image: the Docker tests say so themselves.
  }
  // Capped: past that, a machine is too slow for the suite's budget whatever the limits say, and
  // a hung test should still fail within CI's time.
  const factor = Math.min(MAX_FACTOR, Math.max(1, nodeMs / REFERENCE_NODE_MS, containerMs ? containerMs / REFERENCE_CONTAINER_MS : 1));
  return { factor: Math.round(factor * 100) / 100, nodeMs: Math.round(nodeMs), ...(containerMs ? { containerMs: Math.round(containerMs) } : {}) };
}

/** Puts the scale where the test workers read it. */
export function shareTimeScale(scale: TimeScale): void {
  process.env[SCALE_VAR] = String(scale.factor);
}

/** This machine's factor (1 outside vitest). */
export const TIME_SCALE = Math.max(1, Number(process.env[SCALE_VAR]) || 1);

/** A limit written for the reference machine, on this one. */
export function scaled(ms: number): number {
  return Math.round(ms * TIME_SCALE);
}
