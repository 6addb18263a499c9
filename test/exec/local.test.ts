import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStageLocal } from '../../src/exec/local.js';
import type { StageDef } from '../../src/exec/stage.js';
import { markerPath, readMarkers, type StagePlan } from '../../src/exec/task.js';
import { writeShard } from '../../src/io/shards.js';
import { silentLogger } from '../../src/util/log.js';
import type { CorpusConfig } from '../../src/config/schema.js';

function plan(worldSize: number): StagePlan {
  const workDir = mkdtempSync(join(tmpdir(), 'cosmo-exec-'));
  return { stage: 'test', worldSize, inputDir: undefined, outputDir: join(workDir, 'test'), workDir, options: {} };
}

/** A stage whose tasks record each run and fail while their rank is in `failing`. */
function countingStage(failing: Set<number>, runs: number[]): StageDef {
  return {
    name: 'test',
    enabled: () => true,
    tasks: () => 4,
    async runTask(_cfg, ctx) {
      runs.push(ctx.rank);
      if (failing.has(ctx.rank)) throw new Error(`rank ${ctx.rank} broke`);
      await writeShard(join(ctx.outputDir, `${ctx.rank}.jsonl`), [{ rank: ctx.rank }]);
      ctx.stats.inc('rows');
    },
  };
}

const cfg = {} as CorpusConfig;
const opts = { workers: 1, log: silentLogger, signal: new AbortController().signal };

describe('local executor', () => {
  it('marks completed tasks, reports failures, and reruns only what failed', async () => {
    const p = plan(4);
    const runs: number[] = [];
    const failing = new Set([2]);
    const failures = await runStageLocal(countingStage(failing, runs), cfg, p, opts);
    expect(failures.map((f) => f.rank)).toEqual([2]);
    expect(failures[0]!.error).toContain('rank 2 broke');
    expect(runs).toEqual([0, 1, 2, 3]);
    expect(existsSync(markerPath(p.outputDir, 2))).toBe(false);
    expect(existsSync(markerPath(p.outputDir, 3))).toBe(true);

    failing.clear();
    runs.length = 0;
    expect(await runStageLocal(countingStage(failing, runs), cfg, p, opts)).toEqual([]);
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
    const def: StageDef = {
      ...countingStage(new Set(), runs),
      async runTask(c, ctx) {
        await countingStage(new Set(), runs).runTask(c, ctx);
        controller.abort(new Error('interrupted'));
      },
    };
    await expect(runStageLocal(def, cfg, p, { ...opts, signal: controller.signal })).rejects.toThrow('interrupted');
    expect(runs).toEqual([0]);
    // The aborted task's marker is not written: its work is redone on resume.
    expect(readMarkers(p.outputDir)).toEqual([]);
  });
});
