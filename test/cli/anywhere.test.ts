/**
 * cosmo runs from anywhere: its worker processes start with the same runtime as the parent (the
 * TypeScript source through tsx in a checkout, the compiled dist/ when installed), whatever the
 * current folder.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, readAll } from '../../src/io/shards.js';
import { cosmo, ROOT, run } from '../helpers/cli.js';

/** A corpus of two seed sources (two seeds tasks) and two prompt shards, run two tasks at a time. */
function corpusOutside(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-away-'));
  const web = join(ROOT, 'examples/data/web.jsonl');
  writeFileSync(
    join(dir, 'corpus.yaml'),
    [
      'name: away',
      'seeds:',
      `  - { kind: web, path: ${web}, limit: 6 }`,
      `  - { kind: web, path: ${web}, name: web2 }`,
      'prompts: { tasks: 2 }',
      'executor: { workers: 2 }',
      '',
    ].join('\n'),
  );
  return dir;
}

async function expectBuilt(dir: string, stderr: string) {
  const prompts = await collect(readAll(join(dir, 'out/away/prompts')));
  expect(prompts.length, stderr).toBeGreaterThan(0);
  // The first seeds task ran in a worker process, with its own log; the second in the cosmo process.
  expect(readdirSync(join(dir, 'out/away/seeds/.logs')).sort()).toEqual(['0.log']);
}

describe('cosmo from a folder outside the checkout', () => {
  it('runs a two-worker pipeline from the source checkout', async () => {
    const dir = corpusOutside();
    const r = await cosmo(['prompts', 'corpus.yaml'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    await expectBuilt(dir, r.stderr);
  });

  it('runs a two-worker pipeline from the packed package (npm pack, npm install)', async () => {
    // Pack a fresh build of this checkout (never a stale dist/), then install it as a user would.
    const pkg = mkdtempSync(join(tmpdir(), 'cosmo-pkg-'));
    const app = mkdtempSync(join(tmpdir(), 'cosmo-app-'));
    try {
      for (const f of ['package.json', 'bin', 'templates', 'examples', 'README.md']) cpSync(join(ROOT, f), join(pkg, f), { recursive: true });
      const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')]).done;
      expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
      const packed = await run('npm', ['pack', '--silent'], { cwd: pkg }).done;
      expect(packed.code, packed.stderr).toBe(0);
      writeFileSync(join(app, 'package.json'), '{"name": "app", "private": true}\n');
      const install = await run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', join(pkg, packed.stdout.trim())], { cwd: app }).done;
      expect(install.code, install.stderr).toBe(0);

      const dir = corpusOutside();
      mkdirSync(dir, { recursive: true });
      const r = await run(join(app, 'node_modules/.bin/cosmo'), ['prompts', 'corpus.yaml'], { cwd: dir }).done;
      expect(r.code, r.stderr).toBe(0);
      await expectBuilt(dir, r.stderr);
    } finally {
      // The installed package is ~1.2 GB with its dependencies: left in the temp folder by every run
      // of the suite, it filled a developer's disk.
      rmSync(app, { recursive: true, force: true });
      rmSync(pkg, { recursive: true, force: true });
    }
  }, 300_000);
});
