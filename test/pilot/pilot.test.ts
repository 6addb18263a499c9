/**
 * `cosmo pilot` against the local OpenAI-compatible server: every template × audience cell gets N
 * samples in its own folder, and the cell whose texts all open alike comes first, with examples.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PilotCell } from '../../src/pilot/pilot.js';
import { cosmo } from '../helpers/cli.js';
import { startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';
import { seedParagraphs } from '../decontaminate/planted-corpus.js';
import { hasSharedData } from '../helpers/shared-data.js';

const WEB = resolve(import.meta.dirname, '../../examples/data/web.jsonl');

describe.skipIf(!hasSharedData)('cosmo pilot', () => {
  let server: MockServer;
  beforeAll(async () => {
    const paragraphs = seedParagraphs().filter((p) => p.split(/\s+/).length > 150);
    // Stories all open the same way (a prompt asking for boilerplate); textbooks vary.
    server = await startMockOpenAI({
      model: 'pilot-model',
      completionTokens: 300,
      reply: (prompt, n) => `${prompt.includes('educational story') ? 'Maria and her grandfather walked to the market. ' : ''}${paragraphs[n % paragraphs.length]!}`,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('generates N samples per template × audience in a folder of its own and ranks the repeated opening first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-pilot-'));
    writeFileSync(
      join(dir, 'corpus.yaml'),
      [
        'name: trial',
        `seeds: [{ kind: web, path: ${WEB} }]`,
        'prompts:',
        '  count: 60',
        '  mix: [{ kind: web, format: [textbook_academic, story_children] }]',
        '  audiences: [young_children, college]',
        `generate: { engines: [{ type: openai, base_url: "${server.url}", model: pilot-model }] }`,
        '',
      ].join('\n'),
    );
    const r = await cosmo(['pilot', 'corpus.yaml', '--per-template', '3'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('| template | audience | samples | top opening |');
    expect(r.stdout).toMatch(/cosmo pilot: 3 cells, worst first; .*trial-pilot\/pilot\.md/);
    const pilotDir = join(dir, 'out', 'trial-pilot');
    expect(existsSync(join(dir, 'out', 'trial'))).toBe(false);
    const { cells } = JSON.parse(readFileSync(join(pilotDir, 'pilot.json'), 'utf8')) as { cells: PilotCell[] };
    expect(cells.map((c) => `${c.template} × ${c.audience}`).sort()).toEqual(['web.story_children × young_children', 'web.textbook_academic × college', 'web.textbook_academic × young_children']);
    expect(cells.every((c) => c.samples === 3)).toBe(true);
    expect(cells[0]).toMatchObject({ template: 'web.story_children', top_opening_share: 1, top_opening: 'maria and her grandfather walked' });
    for (const c of cells.slice(1)) expect(c.top_opening_share).toBeLessThan(1);
    expect(cells[0]!.examples[0]).toMatch(/^Maria and her grandfather/);
    expect(readFileSync(join(pilotDir, 'pilot.md'), 'utf8')).toContain('Examples of web.story_children × young_children:');
    // 3 prompts per cell reached the server, not the 60 the corpus asks for.
    expect(server.stats.completed).toBe(9);
  }, 120_000);
});
