import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DecontamReport } from '../../src/decontaminate/report.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

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
});
