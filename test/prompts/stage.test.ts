import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/pipeline/corpus.js';
import { collect, listShards, readAll, readTaskInput } from '../../src/io/shards.js';
import { runPipeline } from '../../src/pipeline/run.js';
import type { PromptRecord, Sample } from '../../src/records/types.js';
import { outlineUnits, parseOutline } from '../../src/seeds/outline.js';
import { silentLogger } from '../../src/util/log.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'examples/data');

function corpus(dir: string, yaml: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'corpus.yaml');
  writeFileSync(file, yaml);
  return file;
}

const run = (file: string, output?: string) => {
  const cfg = loadConfig(file);
  if (output) cfg.output_dir = output;
  return runPipeline(cfg, { only: ['seeds', 'prompts'], log: silentLogger });
};

const mixedCorpus = () => `
name: stage-test
seeds:
  - kind: web
    path: ${sharedPath('seed/web/c4_demo.jsonl')}
    limit: 40
  - kind: openstax
    path: ${sharedPath('seed/openstax/openstax_toc_intros.jsonl')}
    limit: 150
  - kind: wikihow
    path: ${sharedPath('seed/wikihow/wikihow_sum_all_val_titles.txt')}
    limit: 150
  - kind: kb
    path: ${join(EXAMPLES, 'kb.jsonl')}
prompts:
  tasks: 3
  count: 480
  languages: { en: 2, es: 1 }
  topics: [everyday science, personal finance]
  mix:
    - { kind: web, format: [blogpost, story_morality], weight: 2 }
    - { kind: curated, match: { shape: unit }, format: textbook_narrative, weight: 2 }
    - { kind: curated, match: { shape: title }, format: wikihow, weight: 1 }
    - { kind: kb, format: textbook_academic, audience: [college, general], weight: 0.3 }
`;

describe.runIf(hasSharedData)('the seeds and prompts stages', () => {
  it('write prompt shards that generate tasks own whole, byte-identical across runs, and resume a lost task', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-prompts-stage-'));
    const file = corpus(dir, mixedCorpus());
    const [seeds, prompts] = await run(file);
    expect(seeds!.stats.counters.seeds).toBe(40 + 150 + 150 + 11);
    expect(prompts!.stats.counters.prompts).toBe(480);
    const outDir = join(dir, 'out/stage-test/prompts');
    const shards = listShards(outDir);
    expect(shards.map((s) => s.split('/').pop())).toEqual(['0.jsonl', '1.jsonl', '2.jsonl']);
    // Three generate tasks each own one whole shard; together they see every prompt once.
    const owned = await Promise.all([0, 1, 2].map((r) => collect(readTaskInput<PromptRecord>(outDir, r, 3))));
    expect(owned.map((o) => o.length).reduce((a, b) => a + b, 0)).toBe(480);
    expect(new Set(owned.flat().map((p) => p.id)).size).toBe(480);
    const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));
    expect(report.exact_duplicates).toBe(0);
    expect(report.max_deviation_pp).toBeLessThanOrEqual(1);
    expect(Math.abs(report.distribution.language.es.count / 480 - 1 / 3)).toBeLessThanOrEqual(0.01);

    // The same corpus file into another folder: byte-identical shards.
    const other = join(dir, 'again');
    await run(file, other);
    const digest = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    for (const r of [0, 1, 2]) expect(digest(join(other, 'prompts', `${r}.jsonl`))).toBe(digest(join(outDir, `${r}.jsonl`)));

    // Lose task 1's shard and marker: a rerun redoes only that task, identically.
    const before = digest(join(outDir, '1.jsonl'));
    rmSync(join(outDir, '1.jsonl'));
    rmSync(join(outDir, '.done', '1.json'));
    const [, redo] = await run(file);
    expect(redo!.skipped).toBe(2);
    expect(digest(join(outDir, '1.jsonl'))).toBe(before);
  }, 120_000);

  it('cosmo prompts --stats prints and writes the distribution', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-prompts-cli-'));
    const file = corpus(dir, `seeds:\n  - kind: web\n    path: ${sharedPath('seed/web/c4_demo.jsonl')}\n    limit: 30\n`);
    const res = spawnSync(process.execPath, [join(ROOT, 'bin/cosmo.js'), 'prompts', file, '--stats'], { encoding: 'utf8', cwd: dir });
    expect(res.stderr).not.toMatch(/error/i);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/\n\s+young_children\s+8\s+26\.7% \(mix 25\.0%\)/); // 30 over 4 audiences: 8, 8, 7, 7
    expect(res.stdout).toContain('exact duplicates in output: 0');
    const written = JSON.parse(readFileSync(join(dir, 'out/corpus/prompts/distribution.json'), 'utf8'));
    expect(written.prompts).toBe(30);
    expect(written.distribution.format.textbook_academic.count).toBe(30);
  }, 60_000);
});

describe('the seeds stage and bad rows', () => {
  it('stops at a bad row naming file and line, or skips and counts it with --skip-bad', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-seeds-bad-'));
    writeFileSync(join(dir, 'web.jsonl'), '{"text": "one good document"}\n{"text": oops}\n{"text": "another good one"}\n[1, 2]\n');
    const file = corpus(dir, 'seeds:\n  - { kind: web, path: web.jsonl }\n');
    await expect(run(file)).rejects.toThrow(`${join(dir, 'web.jsonl')}:2: malformed JSON`);
    const cfg = loadConfig(file);
    cfg.output_dir = join(dir, 'skipping');
    const [seeds, prompts] = await runPipeline(cfg, { only: ['seeds', 'prompts'], log: silentLogger, skipBad: true });
    expect(seeds!.stats.counters.bad_lines).toBe(2);
    expect(seeds!.stats.counters.seeds).toBe(2);
    expect(prompts!.stats.counters.prompts).toBe(2);
  });
});

describe('chained prompts: outline first, then one prompt per unit', () => {
  it('parses the outline styles models write', () => {
    const md = parseOutline('# Intro to Ecology\n\n## Ecosystems\n- What is an ecosystem?\n- Food webs\n\n## Populations\n- Growth\n');
    expect(md).toEqual({ title: 'Intro to Ecology', chapters: [{ title: 'Ecosystems', units: ['What is an ecosystem?', 'Food webs'] }, { title: 'Populations', units: ['Growth'] }] });
    const numbered = parseOutline('Here is the outline:\n\n1. Counting\n   1.1 The multiplication principle\n   1.2 Permutations\n2. Random variables\n   2.1 Expected value\n');
    expect(numbered.chapters).toEqual([
      { title: 'Counting', units: ['The multiplication principle', 'Permutations'] },
      { title: 'Random variables', units: ['Expected value'] },
    ]);
    const chapters = parseOutline('**Chapter 1: Light**\n  - Reflection\n  - Refraction\n**Chapter 2: Sound**\n  - Waves');
    expect(chapters.chapters.map((c) => [c.title, c.units])).toEqual([['Light', ['Reflection', 'Refraction']], ['Sound', ['Waves']]]);
    const units = outlineUnits(numbered, 'Probability');
    expect(units[1]).toEqual({ course: 'Probability', chapter: 'Counting', unit: 'Permutations', covered_units: ['The multiplication principle'], covered_chapters: [] });
    expect(units[2]!.covered_chapters).toEqual(['Counting']);
    expect(parseOutline('Just a paragraph of prose with no structure.').chapters).toEqual([]);
  });

  it('runs as two corpora: course titles → outline prompts; generated outlines → unit prompts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-chain-'));
    const step1 = corpus(join(dir, 'step1'), `name: outlines
seeds:
  - { kind: course, path: ${join(EXAMPLES, 'courses.yaml')} }
prompts:
  count: 2
  topic_probability: 0
  mix: [{ kind: curated, match: { shape: course }, format: outline, audience: college }]
`);
    await run(step1);
    const outlinePrompts = await collect(readAll<PromptRecord>(join(dir, 'step1/out/outlines/prompts')));
    const course = (p: PromptRecord) => p.seed_data.split('\n')[0]!;
    expect(outlinePrompts.map(course).sort()).toEqual(['History of Computing', 'Introduction to Music Theory']);
    // The chained outline prompt carries the course description, the example and the exclusions, and no rule against headings.
    const computing = outlinePrompts.find((p) => course(p) === 'History of Computing')!;
    expect(computing.prompt).toContain('Covering: "from the abacus and mechanical calculators');
    expect(computing.prompt).toContain('Example, for a course on');
    expect(computing.prompt).toContain('Do not include assignments, exams or prerequisites.');
    expect(computing.prompt).not.toMatch(/Do not start with a title, a heading|derivations, proofs/);
    expect(outlinePrompts.every((p) => p.format === 'outline' && p.max_tokens === 1024)).toBe(true);

    // What generate would write: each prompt with the outline a model answered.
    const answers: Record<string, string> = {
      'History of Computing': '1. Mechanical calculation\n- The abacus\n- Babbage and Lovelace\n2. Electronic computers\n- ENIAC\n- The transistor\n- Microprocessors',
      'Introduction to Music Theory': '## Rhythm\n- Beat and tempo\n- Time signatures\n## Harmony\n- Intervals\n- Chords',
    };
    const samples: Partial<Sample>[] = outlinePrompts.map((p) => ({ ...p, text: answers[course(p)]!, finish_reason: 'stop' }));
    samples.push({ ...outlinePrompts[0]!, id: 'failed', text: '', error: 'timeout' });
    mkdirSync(join(dir, 'gen'));
    writeFileSync(join(dir, 'gen/0.jsonl'), samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
    writeFileSync(join(dir, 'gen/stats.json'), '{}');

    const step2 = corpus(join(dir, 'step2'), `name: units
seeds:
  - { kind: outline, path: ${join(dir, 'gen')} }
prompts:
  count: 9
  topic_probability: 0
  mix: [{ kind: curated, match: { shape: unit }, format: textbook_academic, audience: college }]
`);
    const [seeds] = await run(step2);
    expect(seeds!.stats.counters.seeds).toBe(9); // 5 + 4 units; the failed sample gives none
    const unitPrompts = await collect(readAll<PromptRecord>(join(dir, 'step2/out/units/prompts')));
    expect(unitPrompts).toHaveLength(9);
    const transistor = unitPrompts.find((p) => p.prompt.includes('New unit to write: "The transistor"'))!;
    expect(transistor.prompt).toContain('Textbook: "History of Computing"');
    expect(transistor.prompt).toContain('Current chapter: "Electronic computers"');
    expect(transistor.prompt).toContain('Units already covered in this chapter: "ENIAC".');
    expect(transistor.prompt).toContain('Chapters already covered: "Mechanical calculation".');
    expect(existsSync(join(dir, 'step2/out/units/prompts/report.json'))).toBe(true);
  }, 60_000);
});
