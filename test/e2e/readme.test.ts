/**
 * The README's commands work exactly as printed, in the order printed: the quick start (which,
 * without network, fails clearly and exits non-zero), then the offline route with a tiny model.
 * They run in a fresh copy of the checkout, with an empty model cache and the Hub out of reach.
 * (`npm ci` in them is what CI has just run; `npm test` is the command running this test.)
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readExport } from '../../src/export/stage.js';
import { ROOT, run } from '../helpers/cli.js';

/** The shell blocks of a README section, each as its command lines. */
function shellBlocks(readme: string, heading: string): string[][] {
  const section = readme.slice(readme.indexOf(heading), readme.indexOf('\n## ', readme.indexOf(heading) + heading.length));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim().split('\n').filter(Boolean));
}

describe('the README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const [setup, offline, tests] = shellBlocks(readme, '## Quick start');

  it('prints the set-up + main job and the test command CI runs', () => {
    expect(setup![0]).toMatch(/^git clone .* cosmo && cd cosmo$/);
    expect(setup![1]).toMatch(/^npm ci && \.\/bin\/cosmo\.js run examples\/quickstart\.yaml$/);
    expect(tests).toEqual(['npm ci && npm test']);
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/npm ci[\s\S]*npm test/);
  });

  it('its commands work as printed, in order: the quick start offline, then the offline route', async () => {
    // A fresh checkout: its own examples (the output lands there) and tiny.gguf, the same code and packages.
    const home = mkdtempSync(join(tmpdir(), 'cosmo-readme-'));
    const checkout = join(home, 'cosmo');
    mkdirSync(checkout);
    for (const f of ['bin', 'examples', 'package.json', 'README.md']) cpSync(join(ROOT, f), join(checkout, f), { recursive: true });
    for (const f of ['src', 'templates', 'node_modules']) symlinkSync(join(ROOT, f), join(checkout, f));
    const env = { ...process.env, HOME: home, COSMO_CACHE: join(home, 'cache'), COSMO_HF_ENDPOINT: 'http://127.0.0.1:9' };
    const sh = (line: string) => run('sh', ['-c', line], { cwd: checkout, env }).done;

    // The quick start, without `npm ci` (just run by CI): no network, so it must fail, clearly.
    const main = setup![1]!.replace(/^npm ci && /, '');
    const first = await sh(main);
    expect(first.code).not.toBe(0);
    expect(first.stderr).toContain('cosmo: ');
    expect(first.stderr).toMatch(/no network\?|cannot download/);
    expect(first.stdout).not.toContain('cosmo: done');

    // Then the offline route, as printed.
    for (const line of offline!) {
      const r = await sh(line);
      expect(r.code, `${line}\n${r.stderr}`).toBe(0);
    }
    const rows = await readExport(join(checkout, 'examples/out/quickstart/export'));
    expect(rows.length).toBe(48);
  }, 300_000);
});
