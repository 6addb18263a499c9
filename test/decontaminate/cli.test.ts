import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DecontamReport } from '../../src/decontaminate/report.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { rng } from '../helpers/rng.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cosmo = (args: string[], cwd: string) => spawnSync(process.execPath, [join(ROOT, 'bin/cosmo.js'), ...args], { encoding: 'utf8', cwd });

describe.skipIf(!hasSharedData)('cosmo contamination', () => {
  it('reports per benchmark on arbitrary files and writes the contaminated records', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-contam-'));
    const gsm = JSON.parse(readFileSync(sharedPath('bench/gsm8k_test.jsonl'), 'utf8').split('\n')[5]!) as { question: string };
    const rows = [
      { id: 'a', body: `A word problem for today. ${gsm.question} Try it before reading on.` },
      { id: 'b', body: 'A plain paragraph about cats and dogs that live together in a small house by the sea.' },
    ];
    writeFileSync(join(dir, 'data.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(join(dir, 'mine.jsonl'), JSON.stringify({ text: rows[1]!.body }) + '\n');
    const args = ['contamination', 'data.jsonl', '--field', 'body', '--benchmarks', sharedPath('bench'), '--only', 'gsm8k', '--extra', 'mine.jsonl'];
    const res = cosmo([...args, '--json', '--matches', 'hits.jsonl'], dir);
    expect(res.stderr).not.toContain('error');
    expect(res.status).toBe(0);
    const report = JSON.parse(res.stdout) as DecontamReport;
    expect(report.samples).toMatchObject({ checked: 2, removed: 2 });
    expect(report.benchmarks.map((b) => [b.benchmark, b.samples_removed, b.unique_items])).toEqual([
      ['gsm8k', 1, 1],
      ['mine', 1, 1],
    ]);
    const hits = readFileSync(join(dir, 'hits.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(hits.map((h) => [h.id, h.decontam.item_id])).toEqual([
      ['a', 'gsm8k/5'],
      ['b', 'mine/0'],
    ]);
    const md = cosmo(args, dir);
    expect(md.stdout).toContain('| gsm8k | 1319 (1319) | 1 | 1 |');
    const bad = cosmo(['contamination', 'data.jsonl', '--benchmarks', sharedPath('bench'), '--only', 'gsm8k'], dir);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`${join(dir, 'data.jsonl')}:1: no string field "text"`);
  });

  it('takes prebuilt item texts with --items, named by their task_name, and says so in the report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-contam-'));
    const q = 'Which planet in our solar system has the largest number of known moons orbiting around it today?';
    writeFileSync(join(dir, 'eval.jsonl'), [{ text: q, task_name: 'astro_quiz' }, { text: 'A completely different question about rivers, valleys and the long slow work of erosion over time?' }].map((x) => JSON.stringify(x)).join('\n') + '\n');
    writeFileSync(join(dir, 'data.jsonl'), JSON.stringify({ text: `Quiz time: ${q} Think about it.` }) + '\n');
    const res = cosmo(['contamination', 'data.jsonl', '--items', 'eval.jsonl', '--mode', 'cosmopedia', '--json'], dir);
    expect(res.status, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as DecontamReport;
    expect(report.benchmarks.map((b) => [b.benchmark, b.items, b.samples_removed, b.item_texts])).toEqual([
      ['astro_quiz', 1, 1, 'prebuilt, from eval.jsonl'],
      ['unknown', 1, 0, 'prebuilt, from eval.jsonl'],
    ]);
    writeFileSync(join(dir, 'bad.jsonl'), JSON.stringify({ text: 'x', task_name: 3 }) + '\n');
    const bad = cosmo(['contamination', 'data.jsonl', '--items', 'bad.jsonl'], dir);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`${join(dir, 'bad.jsonl')}:1: field "task_name" must be a string`);
  });
});

describe('cosmo contamination on worker threads', () => {
  it('finds, counts and reports exactly what the main thread does, bad lines and their numbers included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-contam-threads-'));
    // Made-up words from syllables: no two texts share a phrase unless planted.
    const r = rng(5);
    const syllables = ['ka', 'lo', 'mi', 'ren', 'tu', 'sa', 'vo', 'dri', 'pel', 'zan', 'qui', 'bo'];
    const word = () => Array.from({ length: 2 + Math.floor(r() * 2) }, () => syllables[Math.floor(r() * syllables.length)]).join('');
    const phrase = (n: number) => Array.from({ length: n }, word).join(' ');
    const items = Array.from({ length: 20 }, (_, i) => `Question ${i}: which ${phrase(12)} is described by ${phrase(10)}?`);
    writeFileSync(join(dir, 'bench.jsonl'), items.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const prose = `Sample ${i} talks about ${phrase(30)} for a while.`;
      lines.push(JSON.stringify({ id: `s${i}`, text: i % 5 === 0 ? `${prose} ${items[i % items.length]} And more.` : prose }));
      if (i === 150) lines.push('', '{"id": "broken", ', '[1, 2]');
    }
    writeFileSync(join(dir, 'data.jsonl'), lines.join('\n') + '\n');
    const run = (threads: number, ...more: string[]) => {
      const res = cosmo(['contamination', 'data.jsonl', '--extra', 'bench.jsonl', '--json', '--threads', String(threads), ...more], dir);
      return { status: res.status, stdout: res.stdout, stderr: res.stderr, said: res.stderr.split('\n').filter((l) => l.includes('data.jsonl:')) };
    };
    const single = run(0, '--skip-bad', '--matches', 'hits-0.jsonl');
    expect(single.status, single.stderr).toBe(0);
    const report = JSON.parse(single.stdout) as DecontamReport;
    expect(report.samples).toMatchObject({ checked: 400, removed: 80 });
    const threaded = run(2, '--skip-bad', '--matches', 'hits-2.jsonl');
    expect(threaded.stdout).toBe(single.stdout);
    expect(readFileSync(join(dir, 'hits-2.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'hits-0.jsonl'), 'utf8'));
    // Both end their progress with every sample checked and every byte read.
    const mb = (statSync(join(dir, 'data.jsonl')).size / 1e6).toFixed(1);
    for (const r of [single, threaded]) {
      const last = r.stderr.split('\n').filter((l) => l.includes('] progress')).at(-1);
      expect(last).toMatch(new RegExp(`samples=400 .*mb=${mb}0? of_mb=${mb}0? .*eta_s=0`));
    }
    // Without --skip-bad, the same error at the same line.
    const error = run(0);
    expect(error.status).toBe(1);
    expect(error.stderr).toContain(`${join(dir, 'data.jsonl')}:153: malformed JSON`);
    expect(error.said).toHaveLength(1);
    expect(run(2).said).toEqual(error.said);
    writeFileSync(join(dir, 'nofield.jsonl'), lines.slice(0, 10).join('\n') + '\n{"id": "x"}\n');
    const missing = cosmo(['contamination', 'nofield.jsonl', '--extra', 'bench.jsonl', '--threads', '2'], dir);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`${join(dir, 'nofield.jsonl')}:11: no string field "text"`);
  });
});
