// Small helpers every layer may use.

/** Resolves after `ms`; never keeps the process alive by itself. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
