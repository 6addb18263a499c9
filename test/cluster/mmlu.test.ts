/**
 * Purity with the labels hidden: MMLU's 14,042 test questions (question and choices as the text)
 * clustered by `cosmo cluster` with its defaults, no number of clusters given, then scored against
 * their 57 subjects. Hugging Face's reference point: TF-IDF + SVD + KMeans told k = 57 reaches 0.458.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/decontaminate/csv.js';
import { cosmo } from '../helpers/cli.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

describe.runIf(hasSharedData)('clustering MMLU questions without their subjects', () => {
  it('recovers the subjects at NMI >= 0.5 with the default embedder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-mmlu-'));
    const src = sharedPath('bench/mmlu_test');
    const lines: string[] = [];
    for (const f of readdirSync(src).filter((x) => x.endsWith('.csv')).sort()) {
      for (const r of parseCsv(readFileSync(join(src, f), 'utf8'), f).slice(1)) {
        lines.push(JSON.stringify({ text: r.fields.slice(0, 5).join(' '), subject: f.replace(/_test\.csv$/, '') }));
      }
    }
    writeFileSync(join(dir, 'mmlu.jsonl'), lines.join('\n') + '\n');
    expect(lines.length).toBe(14_042);
    const r = await cosmo(['cluster', 'mmlu.jsonl', '--out', 'out', '--no-label', '--labels-field', 'subject'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    const m = /against subject \(57 classes\): NMI ([\d.]+)\s+ARI ([\d.]+)\s+purity ([\d.]+)/.exec(r.stdout);
    expect(m, r.stdout.slice(-500)).not.toBeNull();
    process.stdout.write(`MMLU: ${m![0]}\n`);
    expect(Number(m![1])).toBeGreaterThanOrEqual(0.5);
  }, 900_000);
});
