/**
 * Issue #2's "done when": the quickstart through the real CLI and the real llama.cpp engine writes a
 * Parquet dataset with one row per prompt, its ids are stable across runs, and a run killed with
 * SIGKILL mid-generation completes on rerun with no duplicate ids.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/engines/tokenizer.js';
import { readExport, EXPORT_COLUMNS } from '../../src/export/stage.js';
import { parquetSchema } from '../../src/io/parquet.js';
import { listShards, readAll, collect } from '../../src/io/shards.js';
import type { PromptRecord } from '../../src/records/types.js';
import { readTokenFile } from '../../src/tokenize/formats.js';
import { tinyModelPath } from '../helpers/tiny-model.js';

const ROOT = resolve(import.meta.dirname, '../..');
const QUICKSTART = join(ROOT, 'examples/quickstart.yaml');

function cosmo(args: string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill: () => void } {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cosmo.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code) => res({ code, stdout, stderr })),
  );
  return { done, kill: () => child.kill('SIGKILL') };
}

async function runQuickstart(output: string) {
  const r = await cosmo(['run', QUICKSTART, '--model', model, '--output', output]).done;
  expect(r.code, r.stderr).toBe(0);
  return r;
}

let model: string;
beforeAll(async () => {
  model = await tinyModelPath();
});

describe('quickstart end to end (real llama.cpp engine)', () => {
  let first: string;

  it('writes a Parquet dataset with one row per prompt and the expected columns', async () => {
    first = mkdtempSync(join(tmpdir(), 'cosmo-e2e-'));
    const r = await runQuickstart(first);
    expect(r.stdout).toContain(`dataset: ${join(first, 'export')}`);

    const prompts = await collect(readAll<PromptRecord>(join(first, 'prompts')));
    expect(prompts.length).toBe(48);
    const parquet = listShards(join(first, 'export')).filter((f) => f.endsWith('.parquet'));
    expect(parquet.length).toBeGreaterThan(0);
    expect(Object.keys(await parquetSchema(parquet[0]!))).toEqual(Object.keys(EXPORT_COLUMNS));

    const rows = await readExport(join(first, 'export'));
    expect(rows.length).toBe(prompts.length);
    expect(new Set(rows.map((x) => x.id))).toEqual(new Set(prompts.map((p) => p.id)));
    for (const row of rows) {
      expect(typeof row.text).toBe('string');
      expect(row.token_length).toBeGreaterThan(0);
      expect(['stop', 'length']).toContain(row.finish_reason);
      expect(row.format).toBe('textbook_academic');
      expect(row.model).toEqual(expect.any(String));
      expect(row.template_id).toBe('web.textbook_academic');
    }
    expect(new Set(rows.map((x) => x.audience))).toEqual(new Set(['young_children', 'high_school', 'college', 'researchers']));
    expect(readFileSync(join(first, 'export/README.md'), 'utf8')).toMatch(/num_examples: 48/);

    // Training files in both formats, whose documents decode to the exported text (issue #16).
    const tok = await loadTokenizer(model);
    for (const [format, ext] of [['datatrove', '.ds'], ['megatron', '.bin']] as const) {
      const dir = join(first, 'tokenize', format);
      const docs = readdirSync(dir)
        .filter((f) => f.endsWith(ext))
        .flatMap((f) => readTokenFile(format, join(dir, f.slice(0, -ext.length))));
      expect(docs.every((d) => d.at(-1) === tok.eos)).toBe(true);
      expect(docs.map((d) => tok.decode(d.subarray(0, -1))).sort()).toEqual(rows.map((r) => r.text as string).sort());
    }
    expect(readFileSync(join(first, 'export/README.md'), 'utf8')).toContain('## Tokenized for training');

    // The report on it (issue #11).
    const report = await cosmo(['report', first]).done;
    expect(report.code, report.stderr).toBe(0);
    const numbers = JSON.parse(readFileSync(join(first, 'report/report.json'), 'utf8')) as { rows: number; stages: { generate?: { samples: number } } };
    expect([numbers.rows, numbers.stages.generate?.samples]).toEqual([48, 48]);
  });

  it('gives the same ids and prompts on a second run, and resumes after SIGKILL with no duplicates', async () => {
    const second = mkdtempSync(join(tmpdir(), 'cosmo-e2e-'));
    const run = cosmo(['run', QUICKSTART, '--model', model, '--output', second]);
    // Kill once a few samples are durably in the generation ledger.
    const ledger = join(second, 'generate/0.jsonl.partial');
    for (let i = 0; i < 1200; i++) {
      if (existsSync(ledger) && readFileSync(ledger, 'utf8').split('\n').length > 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    run.kill();
    const killed = await run.done;
    expect(killed.code).not.toBe(0);
    expect(existsSync(join(second, 'export'))).toBe(false);

    await runQuickstart(second);
    const [a, b] = [await readExport(join(first, 'export')), await readExport(join(second, 'export'))];
    const ids = b.map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(a.map((x) => x.id).sort());
    const promptById = new Map(a.map((x) => [x.id, x.prompt]));
    for (const row of b) expect(row.prompt).toBe(promptById.get(row.id));
  });
});
