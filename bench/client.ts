/**
 * Client throughput of the generate stage (issues #4, #17): against a mock OpenAI server in a
 * separate process that answers in ~50 ms with realistic token counts, with 1,000 requests in flight:
 *  - as users run it: `cosmo generate` from dist/ as a process (start-up, reading the prompts, the
 *    ledger, the request cache and the final shard included), its wall time and its CPU per request;
 *  - in process: the generate task alone (runTask), its requests/s and CPU per request;
 *  - the request loop: the same prompts through the pool generate opens (engine, retries, request
 *    cache), kept full, with no prompt reading, ledger or shard: its CPU per request;
 *  - for scale, a bare client in a process of its own: raw keep-alive sockets, one prebuilt request
 *    body per prompt, Content-Length framing and JSON.parse, nothing else (no pool, retries, cache,
 *    ledger or shard): what Node and the kernel cost per request on this machine.
 * Targets (#17): whole command <= 0.2 ms of CPU per request, the request loop <= 0.1 ms.
 *
 *   npm run build && npx tsx bench/client.ts [--requests 30000] [--inflight 1000] [--latency-ms 50]
 *                                            [--tokens 400] [--no-cache] [--runs 3]
 */
import { execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/pipeline/corpus.js';
import { corpusEnv } from '../src/pipeline/env.js';
import { runTask } from '../src/exec/task.js';
import { writeShard } from '../src/io/shards.js';
import { stableId } from '../src/records/id.js';
import type { PromptRecord } from '../src/records/types.js';
import { generateStage, messagesFor, paramsFor } from '../src/generate/stage.js';
import { openPool } from '../src/engines/open.js';
import type { GenerateMetrics } from '../src/generate/metrics.js';
import { silentLogger } from '../src/util/log.js';
import { timedCosmo } from './lib.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '30000' },
    inflight: { type: 'string', default: '1000' },
    'latency-ms': { type: 'string', default: '50' },
    tokens: { type: 'string', default: '400' },
    'no-cache': { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    // Internal: run the bare client against this URL on this prompts file, print its figures as JSON.
    bare: { type: 'string' },
    prompts: { type: 'string' },
  },
});
const N = Number(values.requests);
const inflight = Number(values.inflight);

/** Start the mock server in its own process, so that its CPU is not counted as the client's. */
async function startServer(): Promise<{ url: string; pid: number; stop(): void }> {
  const mock = new URL('../test/helpers/mock-openai.ts', import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', mock, '--port', '0', '--latency-ms', values['latency-ms'], '--completion-tokens', values.tokens],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`mock server exited with code ${code}`)));
  });
  return { url: line.trim(), pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

/** CPU time (user + system) a process has used, from /proc (Linux), in ms. */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks at USER_HZ = 100
  } catch {
    return NaN;
  }
}

/** The bare client (see the header): `inflight` sockets, each sending its next prompt when its answer is in. */
async function bareClient(url: string, promptsFile: string): Promise<{ cpuUs: number; reqPerS: number }> {
  const u = new URL(url);
  const prompts = readFileSync(promptsFile, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as PromptRecord).prompt);
  let next = 0;
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    for (let s = 0; s < inflight; s++) {
      const sock = connect(Number(u.port), u.hostname);
      sock.setNoDelay(true);
      const send = () => {
        const i = next++;
        if (i >= prompts.length) return void sock.destroy();
        const body = JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: prompts[i] }], temperature: 0.6, max_tokens: 2048 });
        sock.write(`POST ${u.pathname}/chat/completions HTTP/1.1\r\nhost: ${u.host}\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncontent-type: application/json\r\n\r\n${body}`);
      };
      let pending: Buffer | undefined;
      let end = -1;
      sock.on('data', (chunk: Buffer) => {
        pending = pending ? Buffer.concat([pending, chunk]) : chunk;
        if (end < 0) {
          const head = pending.indexOf('\r\n\r\n');
          if (head < 0) return;
          end = head + 4 + Number(/content-length: *(\d+)/i.exec(pending.toString('latin1', 0, head))![1]);
        }
        if (pending.length < end) return;
        const answer = JSON.parse(pending.toString('utf8', pending.indexOf('\r\n\r\n') + 4, end)) as { choices: { message: { content: string } }[] };
        if (!answer.choices[0]!.message.content) return reject(new Error('bare client: an answer without text'));
        pending = undefined;
        end = -1;
        if (++done === prompts.length) resolve();
        send();
      });
      sock.on('error', reject);
      sock.once('connect', send);
    }
  });
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / prompts.length, reqPerS: prompts.length / ((performance.now() - t0) / 1000) };
}

/** The bare client in a process of its own, so that nothing else in this one weighs on its figures. */
function bareRun(url: string, promptsFile: string): { cpuUs: number; reqPerS: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--bare', url, '--prompts', promptsFile, '--inflight', String(inflight)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as { cpuUs: number; reqPerS: number };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cosmo-bench-client-'));
  const server = await startServer();
  console.log(`generate client benchmark: ${N} requests, ${inflight} in flight, server latency ${values['latency-ms']} ms, ${values.tokens} tokens/answer, cache ${values['no-cache'] ? 'off' : 'on'} (load ${loadavg()[0]!.toFixed(2)})`);
  try {
    for (let run = 1; run <= Number(values.runs); run++) await once(join(root, `run${run}`), server);
  } finally {
    server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

async function once(dir: string, server: { url: string; pid: number }): Promise<void> {
  {
    // Prompts of Cosmopedia's shape: a few hundred characters of instructions around a seed extract.
    const extract = 'The water cycle moves water between oceans, air and land through evaporation and rain. '.repeat(6);
    const prompts: PromptRecord[] = Array.from({ length: N }, (_, i) => ({
      id: stableId('bench', i),
      prompt: `Here is an extract from a webpage: "${extract}" Write an extensive and detailed course unit (#${i}) suitable for a textbook targeted at college students, related to the given extract.`,
      seed_id: `s${i}`,
      seed_data: extract,
      seed_source: 'bench',
      format: 'textbook',
      audience: 'college',
      template_id: 'bench',
      template_version: 1,
      language: 'en',
    }));
    await writeShard(join(dir, 'prompts', '0.jsonl'), prompts);
    const corpus = (output: string) => ({
      name: 'bench',
      output,
      seeds: [{ kind: 'web', path: 'unused' }],
      generate: {
        engines: [{ type: 'openai', base_url: server.url, model: 'mock', concurrency: inflight }],
        params: { max_tokens: 2048 },
        cache: !values['no-cache'],
      },
    });

    // As users run it: the compiled CLI as a process, in a folder of its own with the same prompts.
    const cliDir = join(dir, 'cli');
    await writeShard(join(cliDir, 'out', 'prompts', '0.jsonl'), prompts);
    writeFileSync(join(cliDir, 'corpus.yaml'), JSON.stringify(corpus('out')));
    const cliServer0 = processCpuMs(server.pid);
    const cli = timedCosmo(cliDir, ['generate', 'corpus.yaml'], true);
    const cliServerMs = processCpuMs(server.pid) - cliServer0;
    const done = readFileSync(join(cliDir, 'out', 'generate', '0.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    if (done !== N) throw new Error(`cosmo generate wrote ${done} samples, not ${N}`);

    const cfg = parseConfig(corpus(dir), { file: join(dir, 'corpus.yaml'), baseDir: dir });
    const outputDir = join(dir, 'generate');
    const server0 = processCpuMs(server.pid);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await runTask(
      generateStage,
      cfg.generate,
      corpusEnv(cfg),
      { stage: 'generate', worldSize: 1, inputDir: join(dir, 'prompts'), outputDir, workDir: dir, options: { progress: 'none' }, dirs: {}, concurrent: 1 },
      0,
      silentLogger,
      new AbortController().signal,
    );
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const serverCpuMs = processCpuMs(server.pid) - server0;
    const m = JSON.parse(readFileSync(join(outputDir, '0.metrics.json'), 'utf8')) as GenerateMetrics;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const fig = (x: number, d = 0) => x.toFixed(d).padStart(10);
    console.log(`run ${dir.split('run').pop()}:`);
    console.log(`  cosmo generate (dist/, a process): ${fig(cli.wall, 2)} s wall = ${(N / cli.wall).toFixed(0)} req/s; CPU ${fig((cli.cpu * 1e6) / N)} us/request (target <= 200); peak RSS ${cli.rssMb.toFixed(0)} MB; server ${((cliServerMs * 1000) / N).toFixed(0)} us/request`);
    console.log(`  in process (the task alone):`);
    console.log(`  requests/s            ${fig(N / secs)}   (read prompts, generate, ledger, final shard)`);
    console.log(`  tokens/s              ${fig(m.totals.completion_tokens / secs)}`);
    console.log(`  client CPU / request  ${fig((cpuMs * 1000) / N)} us   (${fig(cpuMs / secs / 10, 1)}% of one core)`);
    console.log(`  client ceiling        ${fig(1e6 / ((cpuMs * 1000) / N))}   req/s on one free core (1e6 / CPU us per request)`);
    console.log(`  server CPU / request  ${fig((serverCpuMs * 1000) / N)} us   (mock server process; it shares the machine)`);
    console.log(`  latency p50/p99       ${fig(m.latency_ms.p50)} / ${m.latency_ms.p99} ms`);
    console.log(`  wall                  ${fig(secs, 2)} s`);
    if (m.totals.samples !== N) throw new Error(`expected ${N} samples, got ${m.totals.samples}`);

    // The request loop alone: the pool as generate opens it, `inflight` requests kept in flight.
    const { pool, close } = await openPool(cfg.generate, { log: silentLogger, cacheName: 'loop', workDir: join(dir, 'loop') });
    const loopCpu0 = process.cpuUsage();
    const loop0 = performance.now();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < N; i = next++) await pool.complete({ messages: messagesFor(cfg.generate, prompts[i]!), params: paramsFor(cfg.generate, prompts[i]!) });
    };
    await Promise.all(Array.from({ length: inflight }, worker));
    const loopSecs = (performance.now() - loop0) / 1000;
    const loopCpu = process.cpuUsage(loopCpu0);
    await close();
    const loopUs = (loopCpu.user + loopCpu.system) / N;
    console.log(`  request loop (pool, engine, request cache; no prompts, ledger or shard): ${fig(N / loopSecs)} req/s, CPU ${fig(loopUs)} us/request (target <= 100)`);
    const bare = bareRun(server.url, join(dir, 'prompts', '0.jsonl'));
    console.log(`  bare client, for scale (raw sockets and JSON.parse only, a process of its own): ${fig(bare.reqPerS)} req/s, CPU ${fig(bare.cpuUs)} us/request`);
  }
}

if (values.bare) console.log(JSON.stringify(await bareClient(values.bare, values.prompts!)));
else await main();
