// Small helpers every layer may use.

/**
 * Resolves after `ms`. The timer does not keep the process alive (a race against a timeout
 * must not delay exit) unless `keepAlive` says the wait is what the process is doing.
 */
export function delay(ms: number, keepAlive = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (!keepAlive) t.unref();
  });
}
