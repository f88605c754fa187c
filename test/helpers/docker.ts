import Docker from 'dockerode';

export const RUNTIME_IMAGE = process.env.FC_LOCAL_RUNTIME_IMAGE ?? 'fc-local/runtime:offline-6';

/**
 * Whether the Docker tests can run. Without an engine they are skipped, loudly; in CI
 * (FC_LOCAL_REQUIRE_DOCKER=1) a missing engine or image fails the run instead.
 */
export async function dockerReady(): Promise<boolean> {
  const docker = new Docker();
  try {
    await docker.ping();
    await docker.getImage(RUNTIME_IMAGE).inspect();
    return true;
  } catch (err) {
    const why = `Docker tests need an engine and the image ${RUNTIME_IMAGE} (scripts/build-runtime-image.sh): ${(err as Error).message}`;
    if (process.env.FC_LOCAL_REQUIRE_DOCKER === '1') throw new Error(why);
    console.warn(`\n!!! SKIPPING DOCKER TESTS !!! ${why}\n`);
    return false;
  }
}
