import { describe, expect, it } from 'vitest';
import { consoleBudget } from '../src/cli/console-budget.js';

// The console's share of a function's output: a burst, then a steady rate; what is left out is
// counted and said; FC's markers always pass. A fake clock drives it.
describe('consoleBudget', () => {
  const setup = () => {
    let t = 0;
    const printed: string[] = [];
    const notes: { key: string; lines: number; bytes: number }[] = [];
    const budget = consoleBudget({ bytesPerSecond: 1000, burstBytes: 100, reportMs: 10_000, now: () => t }, (key, line) => printed.push(`${key} ${line}`), (key, lines, bytes) => notes.push({ key, lines, bytes }));
    return { budget, printed, notes, advance: (ms: number) => (t += ms) };
  };

  it('prints a burst, then leaves lines out and says how many at close', () => {
    const { budget, printed, notes } = setup();
    // Each line costs key + line + 2 = 1 + 7 + 2 = 10 bytes: ten fit in the burst.
    for (let i = 0; i < 25; i++) budget.line('f', `line-${String(i).padStart(2, '0')}`);
    expect(printed).toHaveLength(10);
    expect(printed.at(-1)).toBe('f line-09');
    budget.close();
    expect(notes).toEqual([{ key: 'f', lines: 15, bytes: 150 }]);
  });

  it('refills at its rate, per function', () => {
    const { budget, printed, advance } = setup();
    for (let i = 0; i < 20; i++) budget.line('a', 'xxxxxxx');
    budget.line('b', 'yyyyyyy');
    expect(printed.filter((l) => l.startsWith('a '))).toHaveLength(10);
    expect(printed.filter((l) => l.startsWith('b '))).toHaveLength(1);
    advance(50); // 50 bytes more: five lines
    for (let i = 0; i < 20; i++) budget.line('a', 'xxxxxxx');
    expect(printed.filter((l) => l.startsWith('a '))).toHaveLength(15);
    budget.close();
  });

  it("always prints FC's markers, even over budget", () => {
    const { budget, printed } = setup();
    for (let i = 0; i < 50; i++) budget.line('f', 'xxxxxxx');
    budget.line('f', 'FC Invoke End RequestId: r1');
    budget.line('f', 'FC Initialize Start RequestId: r2');
    expect(printed.slice(-2)).toEqual(['f FC Invoke End RequestId: r1', 'f FC Initialize Start RequestId: r2']);
    budget.close();
  });
});
