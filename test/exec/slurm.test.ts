/**
 * The Slurm executor against a real one-node Slurm (scripts/slurm-up.sh): stages as job arrays
 * chained with afterok, per-task logs, failure reports, resubmission of only the missing tasks,
 * and cancellation.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/corpus.js';
import type { CorpusConfig } from '../../src/pipeline/corpus.js';
import { arraySpec, jobRecordPath, jobScriptPath, taskLogPath } from '../../src/exec/slurm.js';
import { isTaskDone, markerPath } from '../../src/exec/task.js';
import { readExport } from '../../src/export/stage.js';
import { planStages, runPipeline, stageDir } from '../../src/pipeline/run.js';
import { createLogger, silentLogger, type Logger } from '../../src/util/log.js';
import { startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';
import { ensureSlurm, queueOf, SLURM_STATE } from '../helpers/slurm.js';

const filesUnder = (d: string): string[] =>
  existsSync(d) ? readdirSync(d, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)) : [];

const JOB_NAME = `cosmo-test-${process.pid}`;
let mock: MockServer;
let dir: string;

beforeAll(async () => {
  ensureSlurm();
  mock = await startMockOpenAI({ model: 'mock-model', completionTokens: 24, record: false });
  dir = mkdtempSync(join(tmpdir(), 'cosmo-slurm-'));
  const docs = (from: number) =>
    Array.from({ length: 5 }, (_, i) => JSON.stringify({ text: `Document ${from + i} explains how rivers carve valleys over ${from + i} thousand years of erosion.` })).join('\n') + '\n';
  writeFileSync(join(dir, 'a.jsonl'), docs(0));
  writeFileSync(join(dir, 'b.jsonl'), docs(100));
});

afterAll(async () => {
  await mock?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function corpus(out: string, extra: Record<string, unknown> = {}): CorpusConfig {
  return parseConfig(
    {
      name: 'slurmtest',
      output: out,
      seeds: [
        { kind: 'web', path: 'a.jsonl' },
        { kind: 'web', path: 'b.jsonl' },
      ],
      prompts: { tasks: 2, mix: [{ kind: 'web', format: 'textbook_academic' }], audiences: ['college', 'high_school'] },
      generate: { tasks: 2, engines: [{ type: 'openai', base_url: mock.url, model: 'mock-model', concurrency: 8 }], params: { max_tokens: 24 } },
      filter: { enabled: false },
      dedup: { enabled: false },
      decontaminate: { enabled: false },
      export: { formats: ['parquet'] },
      executor: {
        type: 'slurm',
        // Real sbatch options, so the cluster checks them; generate overrides a few for itself.
        slurm: { poll_seconds: 0.2, job_name: JOB_NAME, cpus_per_task: 1, mem: '2G', time: '00:10:00', stages: { generate: { time: '00:05:00', sbatch_args: ['--nice=10'] } } },
      },
      ...extra,
    },
    { file: join(dir, 'corpus.yaml'), baseDir: dir },
  );
}

/** A logger that keeps its lines, so tests can read what the executor reported. */
function recordingLogger(lines: string[]): Logger {
  return createLogger('test', { level: 'info', write: (l) => lines.push(l) });
}

const headers = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('== cosmo ')).length : 0);

describe('slurm executor', () => {
  it('writes array specs with runs compressed', () => {
    expect(arraySpec([8, 0, 1, 2, 5, 7])).toBe('0-2,5,7-8');
    expect(arraySpec([3], 2)).toBe('3%2');
  });

  it('runs a whole pipeline as chained job arrays, with the same output as the local executor', async () => {
    const local = corpus(join(dir, 'out-local'), { executor: { type: 'local' } });
    await runPipeline(local, { log: silentLogger });

    const cfg = corpus(join(dir, 'out-slurm'));
    const lines: string[] = [];
    const started = Date.now();
    const results = await runPipeline(cfg, { log: recordingLogger(lines) });
    const wall = Date.now() - started;
    const stages = planStages(cfg).map((s) => s.def.name);
    // Each stage's time is its own (its tasks and its finalize), not the time since the run was submitted.
    expect(results.reduce((t, r) => t + r.duration_ms, 0)).toBeLessThanOrEqual(wall);
    expect(stages).toEqual(expect.arrayContaining(['seeds', 'prompts', 'generate', 'export']));
    expect(results.map((r) => r.stage)).toEqual(stages);

    // One array per stage, each after the previous one.
    const submitted = lines.filter((l) => l.includes('submitted'));
    expect(submitted).toHaveLength(stages.length);
    const ids = submitted.map((l) => /job=(\d+)/.exec(l)![1]!);
    for (let i = 1; i < ids.length; i++) expect(submitted[i]).toContain(`after=${ids[i - 1]}`);
    const genScript = readFileSync(jobScriptPath(stageDir(cfg, 'generate')), 'utf8');
    for (const line of ['#SBATCH --array=0-1', '#SBATCH --time=00:05:00', '#SBATCH --cpus-per-task=1', '#SBATCH --mem=2G', '#SBATCH --nice=10'])
      expect(genScript).toContain(line);
    expect(readFileSync(jobScriptPath(stageDir(cfg, 'seeds')), 'utf8')).toContain('#SBATCH --time=00:10:00');

    // Every task ran as an array task with its own log, and left its marker.
    for (const [stage, n] of [['seeds', 2], ['prompts', 2], ['generate', 2], ['export', 1]] as const)
      for (let r = 0; r < n; r++) {
        expect(isTaskDone(stageDir(cfg, stage), r)).toBe(true);
        expect(headers(taskLogPath(stageDir(cfg, stage), r))).toBe(1);
      }
    // finalize ran here after the arrays: stats merged across tasks and the dataset card written.
    const stats = JSON.parse(readFileSync(join(stageDir(cfg, 'prompts'), 'stats.json'), 'utf8'));
    expect(stats.counters.prompts).toBe(10); // one prompt per seed document
    expect(existsSync(join(stageDir(cfg, 'export'), 'README.md'))).toBe(true);

    const pick = (rows: Record<string, unknown>[]) =>
      rows.map((r) => ({ id: r.id, prompt: r.prompt, text: r.text, audience: r.audience, token_length: r.token_length })).sort((a, b) => String(a.id).localeCompare(String(b.id)));
    const expected = pick(await readExport(stageDir(local, 'export')));
    expect(expected).toHaveLength(10);
    expect(pick(await readExport(stageDir(cfg, 'export')))).toEqual(expected);
    expect(readFileSync(join(stageDir(cfg, 'prompts'), '1.jsonl'), 'utf8')).toBe(readFileSync(join(stageDir(local, 'prompts'), '1.jsonl'), 'utf8'));
    expect(queueOf(JOB_NAME)).toEqual([]);
  });

  it('reports a failed task with its log, cancels the stages after it, and resubmits only that task', async () => {
    const out = join(dir, 'out-fail');
    // A file that is there (so the run starts) but breaks its task when read.
    writeFileSync(join(dir, 'broken.jsonl'), 'not json\n');
    const seeds = [
      { kind: 'web', path: 'a.jsonl' },
      { kind: 'web', path: 'broken.jsonl' },
      { kind: 'web', path: 'b.jsonl' },
    ];
    const cfg = corpus(out, { seeds });
    const err = await runPipeline(cfg, { log: silentLogger }).then(
      () => new Error('the run should have failed'),
      (e: unknown) => e as Error,
    );
    const seedsDir = stageDir(cfg, 'seeds');
    expect(err.message).toContain('stage seeds: 1 of 3 tasks failed');
    expect(err.message).toContain(`task 1: `);
    expect(err.message).toContain('broken.jsonl:1');
    expect(err.message).toContain(`(log: ${taskLogPath(seedsDir, 1)})`);
    expect(readFileSync(taskLogPath(seedsDir, 1), 'utf8')).toContain('broken.jsonl');
    expect([0, 1, 2].map((r) => isTaskDone(seedsDir, r))).toEqual([true, false, true]);
    // The stages chained after the failed array were cancelled, never run.
    expect(existsSync(markerPath(stageDir(cfg, 'prompts'), 0))).toBe(false);
    expect(queueOf(JOB_NAME)).toEqual([]);

    writeFileSync(join(dir, 'broken.jsonl'), JSON.stringify({ text: 'A late document about glaciers and the valleys they leave behind.' }) + '\n');
    const lines: string[] = [];
    await runPipeline(cfg, { log: recordingLogger(lines), only: ['seeds'] });
    const record = JSON.parse(readFileSync(jobRecordPath(seedsDir), 'utf8'));
    expect(record.ranks).toEqual([1]);
    expect(lines.some((l) => l.includes('submitted') && l.includes('tasks="1 of 3"'))).toBe(true);
    // Only task 1 ran again: its log holds two attempts, the others one.
    expect([0, 1, 2].map((r) => headers(taskLogPath(seedsDir, r)))).toEqual([1, 2, 1]);
    expect([0, 1, 2].map((r) => isTaskDone(seedsDir, r))).toEqual([true, true, true]);

    // Nothing left to do: a rerun submits nothing.
    lines.length = 0;
    await runPipeline(cfg, { log: recordingLogger(lines), only: ['seeds'] });
    expect(lines.filter((l) => l.includes('submitted'))).toEqual([]);
  });

  it("hands the engines' keys to the jobs in a private file, never through the job records Slurm keeps", async () => {
    const key = 'sk-slurm-test-0123456789abcdef';
    process.env.COSMO_SLURM_TEST_KEY = key;
    const locked = await startMockOpenAI({ apiKey: key, completionTokens: 8, record: false });
    try {
      const cfg = corpus(join(dir, 'out-keys'), {
        generate: { tasks: 1, engines: [{ type: 'openai', base_url: locked.url, model: 'm', api_key_env: 'COSMO_SLURM_TEST_KEY' }] },
      });
      const results = await runPipeline(cfg, { log: silentLogger });
      // The key reached the array task: every request was accepted.
      expect(results.find((r) => r.stage === 'generate')!.stats.counters.samples).toBe(10);
      expect(locked.stats.byStatus[401]).toBeUndefined();
      // Slurm keeps each job's environment and script in its state folder; neither holds the key,
      // nor does anything cosmo left in the output folder.
      const kept = [...filesUnder(join(SLURM_STATE, 'ctld')), ...filesUnder(cfg.output_dir)];
      expect(kept.some((f) => f.endsWith('environment'))).toBe(true);
      for (const f of kept) expect(readFileSync(f).includes(key), f).toBe(false);
    } finally {
      delete process.env.COSMO_SLURM_TEST_KEY;
      await locked.close();
    }
  });

  it('cancels the submitted jobs when interrupted', async () => {
    const cfg = corpus(join(dir, 'out-cancel'));
    const controller = new AbortController();
    const lines: string[] = [];
    // Interrupt as soon as the last array is submitted, while the chain is still queued or running.
    const log = createLogger('test', {
      write: (l) => {
        lines.push(l);
        if (l.includes('submitted') && l.includes('[test/export]')) controller.abort(new Error('interrupted'));
      },
    });
    await expect(runPipeline(cfg, { log, signal: controller.signal })).rejects.toThrow('interrupted');
    expect(lines.some((l) => l.includes('cancelling jobs'))).toBe(true);
    expect(queueOf(JOB_NAME)).toEqual([]);
    expect(existsSync(markerPath(stageDir(cfg, 'export'), 0))).toBe(false);
  });
});
