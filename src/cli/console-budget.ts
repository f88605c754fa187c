// What `start` prints of a function's output, per function: a burst, then a steady rate. A
// function that floods (50 MB of lines) would otherwise hold the console, and with it every
// other function's lines and fc-local's own, behind its flood; and since stdout to a pipe is
// synchronous on Linux, a slow reader would stall the whole server. Lines over the budget are
// counted and said in one line a second; the workbench and the log tail still get every line.

export interface ConsoleBudgetOptions {
  /** Steady bytes per second per function. */
  bytesPerSecond: number;
  /** What a function may print at once before the rate applies. */
  burstBytes: number;
  /** How often the count of lines left out is said, while a flood lasts. */
  reportMs?: number;
  now?: () => number;
}

interface Account {
  tokens: number;
  at: number;
  droppedLines: number;
  droppedBytes: number;
  report?: NodeJS.Timeout;
}

// FC's own markers (FC Invoke Start/End, FC Initialize ...) always pass: they frame what was printed.
const MARKER = /^FC (Invoke|Initialize|PreStop|PreFreeze) /;

export const DEFAULT_CONSOLE_BUDGET: ConsoleBudgetOptions = { bytesPerSecond: 1024 * 1024, burstBytes: 1024 * 1024 };

export function consoleBudget(
  opts: ConsoleBudgetOptions,
  print: (key: string, line: string) => void,
  note: (key: string, droppedLines: number, droppedBytes: number, bytesPerSecond: number) => void,
): { line(key: string, line: string): void; close(): void } {
  const now = opts.now ?? Date.now;
  const accounts = new Map<string, Account>();
  const flush = (key: string, a: Account) => {
    a.report = undefined;
    if (a.droppedLines === 0) return;
    note(key, a.droppedLines, a.droppedBytes, opts.bytesPerSecond);
    a.droppedLines = 0;
    a.droppedBytes = 0;
  };
  return {
    line(key, line) {
      let a = accounts.get(key);
      const t = now();
      if (!a) accounts.set(key, (a = { tokens: opts.burstBytes, at: t, droppedLines: 0, droppedBytes: 0 }));
      a.tokens = Math.min(opts.burstBytes, a.tokens + ((t - a.at) * opts.bytesPerSecond) / 1000);
      a.at = t;
      const cost = key.length + line.length + 2;
      if (a.tokens >= cost || MARKER.test(line)) {
        a.tokens -= cost;
        print(key, line);
        return;
      }
      a.droppedLines++;
      a.droppedBytes += cost;
      if (!a.report) {
        const acc = a;
        a.report = setTimeout(() => flush(key, acc), opts.reportMs ?? 1000);
        a.report.unref();
      }
    },
    close() {
      for (const [key, a] of accounts) {
        if (a.report) clearTimeout(a.report);
        flush(key, a);
      }
    },
  };
}

/** The console of `start`: functions' lines within the default budget, and a note for what is left out. */
export function functionConsole(print: (key: string, line: string) => void, note: (line: string) => void): ReturnType<typeof consoleBudget> {
  return consoleBudget(DEFAULT_CONSOLE_BUDGET, print, (key, lines, bytes, rate) =>
    note(`${key}: ${lines} lines (${(bytes / 1024 / 1024).toFixed(1)} MB) not printed here (it logs faster than ${rate / 1024 / 1024} MB/s); the workbench keeps each invocation's newest lines`),
  );
}
