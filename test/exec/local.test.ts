import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LocalExecutor } from '../../src/exec/local.js';
import type { StageJob, TaskFailure } from '../../src/exec/executor.js';
import { defineStage, type AnyStage, type CorpusEnv } from '../../src/exec/stage.js';
import { markerPath, readMarkers, runTask, type StagePlan } from '../../src/exec/task.js';
import { silentLogger } from '../../src/util/log.js';

function plan(worldSize: number): StagePlan {
  const workDir = mkdtempSync(join(tmpdir(), 'cosmo-exec-'));
  return { stage: 'test', worldSize, outputDir: join(workDir, 'test'), workDir, options: {}, dirs: {}, concurrent: 1 };
}

const corpus: CorpusEnv = { name: 'test', seed: 1, resolve: (p) => p, publicConfig: {} };

/** A stage whose tasks record each run, write one record, and fail while their rank is in `failing`. */
function countingStage(failing: Set<number>, runs: number[], after?: () => void): AnyStage {
  return defineStage({
    name: 'test',
    key: 'test',
    schema: z.object({}),
    settings: () => ({}),
    output: { kind: 'row', check: () => undefined },
    enabled: () => true,
    tasks: () => 4,
    async runTask(_cfg, ctx) {
      runs.push(ctx.rank);
      if (failing.has(ctx.rank)) throw new Error(`rank ${ctx.rank} broke`);
      await ctx.output.write({ rank: ctx.rank });
      ctx.stats.inc('rows');
      after?.();
    },
  }) as AnyStage;
}

/** Runs one stage on the local executor (tasks in this process), returning its failed tasks. */
async function runStage(def: AnyStage, p: StagePlan, signal = new AbortController().signal): Promise<TaskFailure[]> {
  let failures: TaskFailure[] = [];
  const job: StageJob = { plan: p, run: (rank, sig) => runTask(def, {}, corpus, p, rank, silentLogger, sig).then(() => undefined) };
  await new LocalExecutor(1, { workerCommand: [], runName: 'test', secretEnv: [] }).run([job], {
    log: silentLogger,
    signal,
    onStageDone: async (_job, f) => {
      failures = f;
    },
  });
  return failures;
}

describe('local executor', () => {
  it('marks completed tasks, reports failures, and reruns only what failed', async () => {
    const p = plan(4);
    const runs: number[] = [];
    const failing = new Set([2]);
    const failures = await runStage(countingStage(failing, runs), p);
    expect(failures.map((f) => f.rank)).toEqual([2]);
    expect(failures[0]!.error).toContain('rank 2 broke');
    expect(runs).toEqual([0, 1, 2, 3]);
    expect(existsSync(markerPath(p.outputDir, 2))).toBe(false);
    expect(existsSync(markerPath(p.outputDir, 3))).toBe(true);

    failing.clear();
    runs.length = 0;
    expect(await runStage(countingStage(failing, runs), p)).toEqual([]);
    expect(runs).toEqual([2]);
    const markers = readMarkers(p.outputDir);
    expect(markers.map((m) => m.rank).sort()).toEqual([0, 1, 2, 3]);
    expect(markers.reduce((n, m) => n + (m.stats.counters.rows ?? 0), 0)).toBe(4);
    expect(JSON.parse(readFileSync(join(p.outputDir, '2.jsonl'), 'utf8'))).toEqual({ rank: 2 });
  });

  it('stops at once when aborted', async () => {
    const p = plan(4);
    const controller = new AbortController();
    const runs: number[] = [];
    const def = countingStage(new Set(), runs, () => controller.abort(new Error('interrupted')));
    await expect(runStage(def, p, controller.signal)).rejects.toThrow('interrupted');
    expect(runs).toEqual([0]);
    // The aborted task's marker is not written, nor its output: its work is redone on resume.
    expect(readMarkers(p.outputDir)).toEqual([]);
    expect(existsSync(join(p.outputDir, '0.jsonl'))).toBe(false);
  });
});
