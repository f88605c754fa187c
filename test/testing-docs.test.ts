import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { scaled } from './helpers/time-scale.js';

// docs/testing.md shows the shop example's files as they are, and its pytest suite passes
// against fc-local (Debian's python3-pytest; .ci/run installs it). Its vitest twin runs with the
// rest of the suite (docs/examples/**/*.test.ts).

const SHOP = path.join(ROOT, 'docs', 'examples', 'shop');
const hasPytest = (await execa('/usr/bin/python3', ['-c', 'import pytest'], { reject: false })).exitCode === 0;
if (!hasPytest && process.env.FC_LOCAL_REQUIRE_DOCKER === '1') throw new Error('CI runs the pytest example: install python3-pytest (.ci/run does)');

describe('docs/testing.md', () => {
  it('shows each file of the shop example as it is', () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'testing.md'), 'utf8');
    for (const f of ['fc.yml', 'code/index.py', 'conftest.py', 'test_shop.py', 'shop.test.ts']) {
      expect(doc, `docs/testing.md shows ${f}`).toContain(readFileSync(path.join(SHOP, f), 'utf8').trim());
    }
  });

  it.skipIf(!hasPytest)('runs the pytest example: HTTP, an async invocation awaited, a failure at its destination', async () => {
    const r = await execa('/usr/bin/python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', SHOP], {
      reject: false,
      env: { FC_LOCAL: `${process.execPath} ${path.join(ROOT, 'bin', 'fc-local.js')}`, PYTHONDONTWRITEBYTECODE: '1' },
      all: true,
    });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/3 passed/);
  }, scaled(120_000));
});
