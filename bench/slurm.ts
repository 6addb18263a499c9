/**
 * What the Slurm executor costs over the local one: the seeds stage with N small tasks, run with
 * the local executor (N at once: one in the cosmo process, the others in worker processes) and as one Slurm job array on the one-node test
 * cluster (scripts/slurm-up.sh, started here if needed; it lets all N run at once too). Both pay about one
 * Node process per task; the ratio shows Slurm's submit, schedule and poll overhead on top. Also times `cosmo serve` from submission
 * to healthy for 2 instances of the mock OpenAI server.
 *
 *   npx tsx bench/slurm.ts [--tasks 8]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/pipeline/corpus.js';
import { runPipeline } from '../src/pipeline/run.js';
import { startServers } from '../src/serve/servers.js';
import { silentLogger } from '../src/util/log.js';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '8' } } });
const tasks = Number(values.tasks);
const root = fileURLToPath(new URL('..', import.meta.url));
const up = execFileSync('bash', [join(root, 'scripts/slurm-up.sh')], { encoding: 'utf8' });
process.env.SLURM_CONF = /export SLURM_CONF=(\S+)/.exec(up)![1];

const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-slurm-'));
try {
  const seeds = Array.from({ length: tasks }, (_, i) => {
    writeFileSync(join(dir, `s${i}.jsonl`), JSON.stringify({ text: `Seed document ${i} about tides and the moon.` }) + '\n');
    return { kind: 'web', path: `s${i}.jsonl` };
  });
  const cfg = (out: string, executor: Record<string, unknown>) =>
    parseConfig({ name: 'bench', output: out, seeds, executor }, { file: join(dir, 'corpus.yaml'), baseDir: dir });

  const time = async (fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    return (performance.now() - t) / 1000;
  };
  // A first run warms tsx's transform cache, which would otherwise be charged to whichever runs first.
  await runPipeline(cfg(join(dir, 'warm'), { type: 'local', workers: tasks }), { log: silentLogger, only: ['seeds'] });
  const local = await time(() => runPipeline(cfg(join(dir, 'local'), { type: 'local', workers: tasks }), { log: silentLogger, only: ['seeds'] }));
  const slurm = await time(() =>
    runPipeline(cfg(join(dir, 'slurm'), { type: 'slurm', slurm: { poll_seconds: 0.2 } }), { log: silentLogger, only: ['seeds'] }),
  );
  console.log(`seeds stage, ${tasks} tasks: local (${tasks} workers) ${local.toFixed(2)} s, slurm array ${slurm.toFixed(2)} s, slurm/local ${(slurm / local).toFixed(2)}x`);

  const template = join(dir, 'mock.sbatch');
  writeFileSync(
    template,
    `#!/bin/bash
# cosmo: health=/health api=/v1
node --import tsx ${join(root, 'test/helpers/mock-openai.ts')} --port 0 > {{dir}}/url-{{instance}} &
until [ -s {{dir}}/url-{{instance}} ]; do sleep 0.05; done
url=$(cat {{dir}}/url-{{instance}}); port=\${url##*:}; echo "$(hostname):\${port%%/*}" > {{address_file}}
wait
`,
  );
  let servers: Awaited<ReturnType<typeof startServers>> | undefined;
  const healthy = await time(async () => {
    servers = await startServers({
      engine: 'custom',
      template,
      model: 'mock',
      instances: 2,
      endpointsFile: join(dir, 'endpoints.json'),
      dir: join(dir, 'serve'),
      pollMs: 100,
    });
  });
  const stop = await time(() => servers!.stop());
  console.log(`cosmo serve, 2 mock instances: healthy after ${healthy.toFixed(2)} s, stopped in ${stop.toFixed(2)} s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
