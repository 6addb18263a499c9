/**
 * `cosmo serve` against a real one-node Slurm: the "GPU server" of the custom template is the mock
 * OpenAI server (test/helpers/mock-openai.ts), started by the Slurm job on a free port.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEndpointsFile } from '../../src/engines/open.js';
import { loadTemplate, renderTemplate, startServers } from '../../src/serve/servers.js';
import { startMockOpenAI } from '../helpers/mock-openai.js';
import { ensureSlurm, queueOf } from '../helpers/slurm.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MOCK = join(ROOT, 'test/helpers/mock-openai.ts');
const JOB_NAME = `cosmo-serve-test-${process.pid}`;
let dir: string;

/** For `.then(...failedWith)`: the error a start that should fail ended with, or an Error saying it did not fail. */
const failedWith = [() => new Error('startServers should have failed'), (e: unknown) => e as Error] as const;

/** Every field cosmo fills in a template, with sample values. */
const FIELDS = { model: 'org/m', revision: "'v1.0'", cache_dir: "''", gpus: 2, address_file: '/a', dir: '/d', args: '', heartbeat: '/d/heartbeat', heartbeat_stale_s: 600, heartbeat_check_s: 60 };

/** A serve template whose server is the mock: it listens on port 0 and reports the port it got. */
const MOCK_TEMPLATE = `#!/bin/bash
# cosmo: health=/health api=/v1
#SBATCH --time=00:10:00
set -euo pipefail
# A job submitted again must not read the port of the one before: bash truncates the file in the
# background child, after the loop below may already have looked.
rm -f {{dir}}/mock-{{instance}}.url
node --import tsx ${MOCK} --port 0 --host 0.0.0.0 --model {{model}} > {{dir}}/mock-{{instance}}.url &
pid=$!
# The shipped templates' watchdog, stopping the server when cosmo serve's heartbeat goes stale.
( while sleep {{heartbeat_check_s}}; do
    age=$(( $(date +%s) - $(stat -c %Y {{heartbeat}} 2>/dev/null || echo 0) ))
    if [ "$age" -gt {{heartbeat_stale_s}} ]; then echo "heartbeat $age s old: stopping" >&2; kill -TERM $pid; exit 0; fi
  done ) &
until [ -s {{dir}}/mock-{{instance}}.url ]; do kill -0 $pid || exit 1; sleep 0.1; done
url=$(cat {{dir}}/mock-{{instance}}.url)
port=\${url##*:}
echo "$(hostname):\${port%%/*}" > {{address_file}}
wait $pid
`;

beforeAll(() => {
  ensureSlurm();
  dir = mkdtempSync(join(tmpdir(), 'cosmo-serve-'));
  writeFileSync(join(dir, 'mock.sbatch'), MOCK_TEMPLATE);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('cosmo serve', () => {
  it('starts 2 instances as Slurm jobs, waits until healthy, writes the endpoints file, and cancels them on stop', async () => {
    const endpointsFile = join(dir, 'endpoints.json');
    const servers = await startServers({
      engine: 'custom',
      cpusPerInstance: 1,
      template: join(dir, 'mock.sbatch'),
      model: 'mock-model',
      instances: 2,
      endpointsFile,
      dir: join(dir, 'state'),
      concurrency: 16,
      jobName: JOB_NAME,
      pollMs: 200,
      healthTimeoutMs: 60_000,
    });
    try {
      expect(queueOf(JOB_NAME).map((l) => l.split('|')[2])).toEqual(['RUNNING', 'RUNNING']);
      // The file generate reads, validated by generate's own reader.
      const engines = readEndpointsFile(endpointsFile);
      expect(engines).toHaveLength(2);
      expect(engines.map((e) => e.type === 'openai' && e.concurrency)).toEqual([16, 16]);
      expect(new Set(servers.endpoints.map((e) => e.base_url)).size).toBe(2);
      for (const e of servers.endpoints) {
        expect(e.base_url).toMatch(/^http:\/\/[\w.-]+:\d+\/v1$/);
        const res = await fetch(`${e.base_url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: e.model, messages: [{ role: 'user', content: 'Say something about rivers.' }], max_tokens: 8 }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { choices: { message: { content: string } }[]; model: string };
        expect(body.model).toBe('mock-model');
        expect(body.choices[0]!.message.content.length).toBeGreaterThan(0);
      }

      // While generate runs, a server whose job ends is dropped from the endpoints file.
      const watching = new AbortController();
      const watch = servers.watch(watching.signal);
      execFileSync('scancel', [servers.instances[1]!.jobId]);
      for (let i = 0; i < 200 && readEndpointsFile(endpointsFile).length > 1; i++) await new Promise((r) => setTimeout(r, 100));
      expect(readEndpointsFile(endpointsFile).map((e) => e.type === 'openai' && e.base_url)).toEqual([servers.endpoints[0]!.base_url]);
      watching.abort();
      await watch;
    } finally {
      await servers.stop();
    }
    expect(queueOf(JOB_NAME)).toEqual([]);
    expect(existsSync(endpointsFile)).toBe(false);
  });

  it('reports a server that dies before it is healthy, with its log, and cancels the others', async () => {
    const tpl = join(dir, 'broken.sbatch');
    // Instance 1 fails as a server without its GPU would; instance 0 would wait forever.
    writeFileSync(tpl, '#!/bin/bash\nif [ {{instance}} = 1 ]; then echo "CUDA error: no CUDA-capable device is detected" >&2; exit 1; fi\nsleep 300\n');
    const err = await startServers({
      engine: 'custom',
      cpusPerInstance: 1,
      template: tpl,
      model: 'm',
      instances: 2,
      endpointsFile: join(dir, 'never.json'),
      dir: join(dir, 'broken'),
      resubmits: 0,
      jobName: JOB_NAME,
      pollMs: 200,
      healthTimeoutMs: 60_000,
    }).then(...failedWith);
    expect(err.message).toContain('server instance 1');
    expect(err.message).toContain('ended before it became healthy');
    expect(err.message).toContain(`log: ${join(dir, 'broken', 'instance-1.log')}`);
    expect(err.message).toContain('no CUDA-capable device');
    expect(queueOf(JOB_NAME)).toEqual([]);
    expect(existsSync(join(dir, 'never.json'))).toBe(false);
  });

  it('reports a server that never becomes healthy within the timeout', async () => {
    const tpl = join(dir, 'silent.sbatch');
    writeFileSync(tpl, '#!/bin/bash\necho "127.0.0.1:9" > {{address_file}}\necho "loading weights..."\nsleep 300\n');
    const err = await startServers({
      engine: 'custom',
      cpusPerInstance: 1,
      template: tpl,
      model: 'm',
      instances: 1,
      endpointsFile: join(dir, 'never.json'),
      dir: join(dir, 'silent'),
      resubmits: 0,
      jobName: JOB_NAME,
      pollMs: 200,
      healthTimeoutMs: 2_000,
    }).then(...failedWith);
    expect(err.message).toContain('not healthy 2 s after it started running');
    expect(err.message).toContain('127.0.0.1:9/health does not answer 200');
    expect(err.message).toContain('loading weights...');
    expect(queueOf(JOB_NAME)).toEqual([]);
  });

  it('goes on with k of N ready, adds the others as they come up, and resubmits a lost instance until it rejoins', async () => {
    // Instance 1's first job dies at once, as on a node with a broken GPU; its second comes up.
    const tpl = join(dir, 'flaky.sbatch');
    writeFileSync(tpl, MOCK_TEMPLATE.replace('set -euo pipefail\n', 'set -euo pipefail\nif [ {{instance}} = 1 ] && [ ! -e {{dir}}/failed-once ]; then touch {{dir}}/failed-once; echo "CUDA error" >&2; exit 1; fi\n'));
    const endpointsFile = join(dir, 'flaky-endpoints.json');
    const servers = await startServers({
      engine: 'custom',
      cpusPerInstance: 1,
      template: tpl,
      model: 'mock-model',
      instances: 2,
      minReady: 1,
      endpointsFile,
      dir: join(dir, 'flaky'),
      jobName: `${JOB_NAME}-flaky`,
      pollMs: 200,
      healthTimeoutMs: 60_000,
    });
    const watching = new AbortController();
    const watched = servers.watch(watching.signal);
    try {
      expect(servers.endpoints.length).toBeGreaterThanOrEqual(1);
      const endpoints = () => (existsSync(endpointsFile) ? readEndpointsFile(endpointsFile) : []);
      const until = async (what: () => boolean) => {
        for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 100));
        return what();
      };
      expect(await until(() => endpoints().length === 2)).toBe(true);
      expect(servers.instances[1]!.submissions).toBe(2);
      // A ready instance lost while serving (its job cancelled from outside): dropped, submitted again, back.
      const lost = servers.instances[0]!;
      const firstJob = lost.jobId;
      execFileSync('scancel', [firstJob]);
      expect(await until(() => lost.jobId !== firstJob)).toBe(true);
      expect(await until(() => endpoints().length === 2 && lost.state === 'ready')).toBe(true);
      expect(lost.submissions).toBe(2);
    } finally {
      watching.abort();
      await watched.catch(() => undefined);
      await servers.stop();
    }
    expect(queueOf(`${JOB_NAME}-flaky`)).toEqual([]);
  }, 90_000);

  it('is ready only once a warm-up generation succeeds, and takes TGI\'s own concurrency limit from /info', async () => {
    const tgi = join(dir, 'tgi-like.sbatch');
    writeFileSync(tgi, MOCK_TEMPLATE.replace('--model {{model}}', '--model {{model}} --flavor tgi'));
    const up = await startServers({ engine: 'custom', cpusPerInstance: 1, template: tgi, model: 'mock-model', instances: 1, endpointsFile: join(dir, 'tgi.json'), dir: join(dir, 'tgi'), jobName: JOB_NAME, pollMs: 200, healthTimeoutMs: 60_000 });
    try {
      expect(up.endpoints[0]!.concurrency).toBe(128);
    } finally {
      await up.stop();
    }
    // A server that answers its health URL and names the model but cannot generate is never ready.
    const broken = join(dir, 'cannot-generate.sbatch');
    writeFileSync(broken, MOCK_TEMPLATE.replace('--model {{model}}', '--model {{model}} --fail-rate 1'));
    const err = await startServers({ engine: 'custom', cpusPerInstance: 1, template: broken, model: 'mock-model', instances: 1, endpointsFile: join(dir, 'never.json'), dir: join(dir, 'cannot'), jobName: JOB_NAME, pollMs: 200, healthTimeoutMs: 3_000, resubmits: 0 }).then(...failedWith);
    expect(err.message).toMatch(/its warm-up generation fails: HTTP 500/);
    expect(queueOf(JOB_NAME)).toEqual([]);
  }, 60_000);

  it('never takes another server on the address for its own: health means our job runs and our model is served', async () => {
    // Someone else's server, already listening where the job says its server is.
    const other = await startMockOpenAI({ model: 'someone-elses-model', host: '127.0.0.1' });
    try {
      const tpl = join(dir, 'squatted.sbatch');
      writeFileSync(tpl, `#!/bin/bash\necho "${new URL(other.url).host}" > {{address_file}}\nsleep 300\n`);
      const err = await startServers({
        engine: 'custom',
        cpusPerInstance: 1,
        template: tpl,
        model: 'mock-model',
        instances: 1,
        endpointsFile: join(dir, 'never.json'),
        dir: join(dir, 'squatted'),
        resubmits: 0,
        jobName: JOB_NAME,
        pollMs: 200,
        healthTimeoutMs: 2_000,
      }).then(...failedWith);
      expect(err.message).toMatch(/serves another model than mock-model/);
      expect(existsSync(join(dir, 'never.json'))).toBe(false);
      expect(queueOf(JOB_NAME)).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('the CLI takes its settings from the corpus file\'s serve: section (flags win), and cancels its jobs on SIGHUP (an ssh session dropped)', async () => {
    // The endpoints go where this corpus's generate step reads them; paths are the corpus file's.
    const endpointsFile = join(dir, 'cli-endpoints.json');
    writeFileSync(
      join(dir, 'served.yaml'),
      `name: served\nseeds:\n  - kind: web\n    path: web.jsonl\ngenerate:\n  endpoints_file: cli-endpoints.json\nserve:\n  engine: custom\n  template: mock.sbatch\n  model: mock-model\n  instances: 3\n  cpus_per_gpu: 1\n  dir: cli\n  job_name: ${JOB_NAME}-cli\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', join(dir, 'served.yaml'), '--instances', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let errText = '';
    child.stderr.on('data', (d: Buffer) => (errText += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    for (let i = 0; i < 600 && !out.includes('server(s) up') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(out, errText).toContain('1 server(s) up');
    expect(readEndpointsFile(endpointsFile)).toHaveLength(1);
    expect(queueOf(`${JOB_NAME}-cli`)).toHaveLength(1);
    child.kill('SIGHUP');
    expect(await exited).toBe(0);
    expect(queueOf(`${JOB_NAME}-cli`)).toEqual([]);
    expect(existsSync(endpointsFile)).toBe(false);
  });

  it('a server job stops by itself once the client that started it is gone (its heartbeat goes stale)', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--engine', 'custom', '--template', join(dir, 'mock.sbatch'), '--model', 'mock-model',
        '--instances', '1', '--cpus-per-instance', '1', '--endpoints-file', join(dir, 'lost-endpoints.json'), '--dir', join(dir, 'lost'), '--job-name', `${JOB_NAME}-lost`, '--heartbeat-stale', '4'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    for (let i = 0; i < 600 && !out.includes('server(s) up') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('1 server(s) up');
    // Killed outright, as by a lost ssh session's OOM or kill -9: no chance to cancel anything.
    child.kill('SIGKILL');
    await exited;
    expect(queueOf(`${JOB_NAME}-lost`)).toHaveLength(1);
    let gone = false;
    for (let i = 0; i < 300 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = queueOf(`${JOB_NAME}-lost`).length === 0;
    }
    expect(gone).toBe(true);
    expect(readFileSync(join(dir, 'lost', 'instance-0.log'), 'utf8')).toMatch(/heartbeat \d+ s old: stopping/);
  }, 60_000);

  it('names the template line of an unknown field', () => {
    const tpl = { file: '/x/my.sbatch', text: '#!/bin/bash\nexec server --port {{port}} --shards {{shards}}\n' };
    expect(() => renderTemplate(tpl, { port: 1 })).toThrow('/x/my.sbatch:2: unknown template field {{shards}}');
    for (const engine of ['vllm', 'tgi', 'sglang'] as const) {
      const t = loadTemplate(engine);
      expect(t.health).toBe('/health');
      const text = renderTemplate(t, { ...FIELDS, port: 8000, instance: 0 });
      expect(text).toContain('org/m');
      expect(text).not.toMatch(/\{\{\s*\w+\s*\}\}/);
      // What sbatch will run parses as bash, the heartbeat watchdog included.
      expect(text).toContain('heartbeat');
      execFileSync('bash', ['-n'], { input: text });
    }
  });

  it('gives each TGI instance its own Prometheus port, master port and shard socket path (TGI\'s defaults collide)', () => {
    const t = loadTemplate('tgi');
    const [a, b] = [0, 1].map((i) => renderTemplate(t, { ...FIELDS, port: 8080 + i, instance: i }));
    // Ports are picked free on the node when the job runs; the socket path is per job and instance.
    expect(a).toMatch(/--prometheus-port "\$\(free_port\)"/);
    expect(a).toMatch(/--master-port "\$\(free_port\)"/);
    const socket = (text: string) => /--shard-uds-path (\S+)/.exec(text)![1];
    expect(socket(a!)).not.toBe(socket(b!));
  });

  it('runs the shipped vLLM and TGI templates as they are: a free port, the address written once the server answers', async () => {
    // Stand-ins for the launchers, on PATH: they start the mock with the port and model they were given.
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const launcher = (flavor: string, modelFlag: string) =>
      `#!/bin/bash\necho "$* HF_HOME=\${HF_HOME:-}" >> ${join(dir, 'launched.txt')}\nmodel=; port=\nwhile [ $# -gt 0 ]; do case $1 in ${modelFlag}) model=$2; shift;; --port) port=$2; shift;; esac; shift; done\nexec node --import tsx ${MOCK} --host 0.0.0.0 --port "$port" --model "$model" --flavor ${flavor}\n`;
    writeFileSync(join(bin, 'vllm'), launcher('vllm', '--served-model-name'), { mode: 0o755 });
    writeFileSync(join(bin, 'text-generation-launcher'), launcher('tgi', '--model-id'), { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      for (const engine of ['vllm', 'tgi'] as const) {
        const servers = await startServers({ engine, model: 'mock-model', revision: 'v1.0', cacheDir: join(dir, 'hf cache'), instances: 2, gpusPerInstance: 0, cpusPerInstance: 1, endpointsFile: join(dir, `${engine}.json`), dir: join(dir, `shipped-${engine}`), jobName: `${JOB_NAME}-${engine}`, pollMs: 200, healthTimeoutMs: 60_000, resubmits: 0 });
        try {
          const endpoints = readEndpointsFile(join(dir, `${engine}.json`));
          expect(endpoints.map((e) => e.type === 'openai' && e.server)).toEqual([engine, engine]);
          const ports = servers.endpoints.map((e) => new URL(e.base_url).port);
          expect(new Set(ports).size).toBe(2);
          expect(ports).not.toContain(String(engine === 'tgi' ? 8080 : 8000));
        } finally {
          await servers.stop();
        }
      }
    } finally {
      process.env.PATH = path;
    }
    expect(queueOf(JOB_NAME)).toEqual([]);
    // The revision reaches each server's command line, and the shared cache its environment (a path with a space included).
    const launched = readFileSync(join(dir, 'launched.txt'), 'utf8').trim().split('\n');
    expect(launched).toHaveLength(4);
    for (const line of launched) {
      expect(line).toContain('--revision v1.0');
      expect(line).toContain(`HF_HOME=${join(dir, 'hf cache')}`);
    }
  }, 120_000);

  it("checks the time limit against the partition's (sinfo): a longer one is refused before anything is submitted, the default is shortened", async () => {
    const base = { engine: 'custom', cpusPerInstance: 1, template: join(dir, 'mock.sbatch'), model: 'mock-model', instances: 1, partition: 'short', jobName: `${JOB_NAME}-short`, pollMs: 200, healthTimeoutMs: 60_000 } as const;
    const err = await startServers({ ...base, time: '01:00:00', endpointsFile: join(dir, 'short.json'), dir: join(dir, 'short') }).then(...failedWith);
    expect(err.message).toContain("time 01:00:00 is longer than partition short's limit of 30:00");
    expect(queueOf(`${JOB_NAME}-short`)).toEqual([]);
    const servers = await startServers({ ...base, endpointsFile: join(dir, 'short.json'), dir: join(dir, 'short') });
    try {
      const limits = execFileSync('squeue', ['--noheader', '--me', '--format=%j|%l|%P'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`${JOB_NAME}-short`));
      expect(limits).toEqual([`${JOB_NAME}-short-0|30:00|short`]);
    } finally {
      await servers.stop();
    }
  }, 60_000);

});
