// What every command shares without loading anything: exit codes and the usage error.

/** Exit codes shared by the commands. */
export const EXIT = { ok: 0, functionError: 1, usage: 2 } as const;

export class UsageError extends Error {}
