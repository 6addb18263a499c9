/** Worker processes of the local executor: one per lane for the whole run, each task's lines in its own log. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StageJob, TaskFailure } from '../../src/exec/executor.js';
import { LocalExecutor } from '../../src/exec/local.js';
import type { RunOptions } from '../../src/exec/stage.js';
import type { StagePlan } from '../../src/exec/task.js';
import { silentLogger } from '../../src/util/log.js';

/**
 * A worker that speaks the executor's protocol (as pipeline/worker.ts does) without running real
 * stages: it logs its pid, then fails the task, exits, or succeeds, as the stage's name says.
 */
const FAKE_WORKER = `
const { RESULT_MARK } = await import(process.env.LOCAL_MODULE);
process.on('message', ({ plan, rank }) => {
  process.stderr.write('task ' + plan.stage + '/' + rank + ' in pid ' + process.pid + ' (progress ' + (plan.options.progress ?? 'none') + ')\\n');
  setTimeout(() => {
    if (plan.stage === 'crash') process.exit(3);
    const result = plan.stage === 'fail' ? { ok: false, error: 'rank ' + rank + ' broke' } : { ok: true };
    process.stderr.write('last line of ' + plan.stage + '/' + rank + '\\n' + RESULT_MARK + JSON.stringify(result) + '\\n');
  }, 20);
});
`;

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-workers-'));
  const script = join(dir, 'worker.mjs');
  writeFileSync(script, FAKE_WORKER);
  process.env.LOCAL_MODULE = new URL('../../src/exec/local.ts', import.meta.url).href;
  const executor = new LocalExecutor(2, { workerCommand: [process.execPath, '--import', 'tsx', script], runName: 'test', secretEnv: [] });
  /** A stage of `tasks` tasks; the ones this process takes are slow, so the worker gets some of each stage. */
  const job = (stage: string, tasks: number, options: RunOptions = {}): StageJob => {
    const plan: StagePlan = { stage, worldSize: tasks, outputDir: join(dir, stage), workDir: dir, options, dirs: {}, concurrent: 2 };
    return { plan, run: () => new Promise((r) => setTimeout(r, 1500)) };
  };
  const logOf = (stage: string, rank: number) => {
    const file = join(dir, stage, '.logs', `${rank}.log`);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  };
  return { executor, job, logOf };
}

describe('local executor workers', () => {
  it('run task after task, of one stage and the next, in the same process, each task logging to its own file', async () => {
    const { executor, job, logOf } = setup();
    const failures: Record<string, TaskFailure[]> = {};
    await executor.run([job('first', 3), job('second', 3)], { log: silentLogger, signal: new AbortController().signal, onStageDone: async (j, f) => void (failures[j.plan.stage] = f) });
    expect(failures).toEqual({ first: [], second: [] });
    const pids = new Set<string>();
    for (const stage of ['first', 'second']) {
      const logs = [0, 1, 2].map((rank) => logOf(stage, rank)).filter((l) => l !== undefined);
      expect(logs.length).toBeGreaterThan(0); // the worker took some of this stage's tasks
      for (const log of logs) {
        const [, task, pid] = /^task (\S+) in pid (\d+) /.exec(log)!;
        expect(log).toBe(`task ${task} in pid ${pid} (progress none)\nlast line of ${task}\n`); // its own lines, all of them, and no result line
        pids.add(pid!);
      }
    }
    expect(pids.size).toBe(1);
  }, 20_000);

  it("reports a task's error and keeps the worker; a worker that dies fails its task and is replaced", async () => {
    const { executor, job, logOf } = setup();
    const failures: Record<string, TaskFailure[]> = {};
    const jobs = [job('fail', 2), job('crash', 2), job('after', 2)];
    await executor.run(jobs, { log: silentLogger, signal: new AbortController().signal, onStageDone: async (j, f) => void (failures[j.plan.stage] = f) });
    // Each stage's worker task is the one with a log (the other ran in this process).
    const inWorker = (stage: string) => [0, 1].find((rank) => logOf(stage, rank) !== undefined)!;
    const pid = (stage: string) => /pid (\d+)/.exec(logOf(stage, inWorker(stage))!)![1];
    expect(failures.fail).toEqual([{ rank: inWorker('fail'), error: `rank ${inWorker('fail')} broke`, log: expect.stringContaining('.log') }]);
    expect(failures.crash).toEqual([{ rank: inWorker('crash'), error: `task crash/${inWorker('crash')} in pid ${pid('crash')} (progress none)`, log: expect.stringContaining('.log') }]);
    expect(failures.after).toEqual([]);
    expect(pid('crash')).toBe(pid('fail')); // kept after a failed task
    expect(pid('after')).not.toBe(pid('crash')); // a new one after the crash
  }, 20_000);

  it("shows a task's progress in lines where the run shows it at all (a worker's stderr is no terminal)", async () => {
    const { executor, job, logOf } = setup();
    const modes: (RunOptions['progress'] | undefined)[] = ['bar', 'lines', 'none', undefined];
    const jobs = modes.map((progress, i) => job(`mode${i}`, 2, progress ? { progress } : {}));
    await executor.run(jobs, { log: silentLogger, signal: new AbortController().signal, onStageDone: async () => {} });
    const seen = modes.map((_, i) => /\(progress (\w+)\)/.exec([0, 1].map((rank) => logOf(`mode${i}`, rank)).find((l) => l !== undefined)!)![1]);
    expect(seen).toEqual(['lines', 'lines', 'none', 'none']);
  }, 20_000);
});
