import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isTaskDone } from '../../src/exec/task.js';
import { ledgerPath, shardPath } from '../../src/generate/stage.js';
import { mockReply, startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';
import { makePrompts, readSamples, tmp, writePrompts } from './helpers.js';

const CHILD = join(import.meta.dirname, 'generate-child.ts');
let server: MockServer | undefined;
afterAll(async () => server?.close());

/** Complete lines in the ledger (a line torn by the kill does not count). */
function ledgerIds(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

function start(spec: string): { child: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, spec], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, exit };
}

describe('generate killed with SIGKILL', () => {
  it('after 3 kills at random points and a rerun, holds each prompt exactly once and loses nothing', async () => {
    const N = 400;
    server = await startMockOpenAI({ latencyMs: 15, completionTokens: 24 });
    const dir = tmp();
    const prompts = makePrompts(N);
    writePrompts(dir, prompts, 100);
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ dir, generate: { engines: [{ type: 'openai', base_url: server.url, model: 'm', concurrency: 8 }] } }));
    const ledger = ledgerPath(join(dir, 'generate'), 0);

    const byPrompt = new Map(prompts.map((p) => [p.prompt, p.id]));
    let lastCount = 0;
    /** At each kill: how many requests the server had seen, and the prompts already in the ledger. */
    const marks: { at: number; ids: Set<string> }[] = [];
    for (let kill = 0; kill < 3; kill++) {
      const target = lastCount + 20 + Math.floor(Math.random() * 60);
      const { child, exit } = start(spec);
      while (ledgerIds(ledger).length < target) {
        const early = await Promise.race([exit.then(() => true), new Promise((r) => setTimeout(r, 2)).then(() => false)]);
        if (early) throw new Error(`child ended before it was killed: ${(await exit).stderr}`);
      }
      // A random extra moment, so the kill may land mid-write, mid-request or between batches.
      await new Promise((r) => setTimeout(r, Math.random() * 15));
      child.kill('SIGKILL');
      const { signal } = await exit;
      expect(signal).toBe('SIGKILL');
      const saved = ledgerIds(ledger);
      // Nothing appended before the kill is lost, and the ledger holds each prompt once.
      expect(saved.length).toBeGreaterThanOrEqual(lastCount);
      expect(new Set(saved).size).toBe(saved.length);
      lastCount = saved.length;
      marks.push({ at: server.log.length, ids: new Set(saved) });
    }
    expect(lastCount).toBeLessThan(N);

    const { exit } = start(spec);
    const result = await exit;
    expect(result.code, result.stderr).toBe(0);

    const outDir = join(dir, 'generate');
    const samples = readSamples(shardPath(outDir, 0));
    expect(samples.map((s) => s.id)).toEqual(prompts.map((p) => p.id));
    expect(samples.every((s, i) => !s.error && s.text === mockReply(prompts[i]!.prompt, 24))).toBe(true);
    expect(existsSync(ledger)).toBe(false);
    expect(isTaskDone(outDir, 0)).toBe(true);

    // Prompts that were in the ledger at a kill were never asked for again.
    for (const mark of marks) {
      const askedAgain = server.log.slice(mark.at).filter((l) => mark.ids.has(byPrompt.get(l.prompt)!));
      expect(askedAgain).toEqual([]);
    }
    // Only work a kill interrupted may have been asked twice: per kill, the 8 requests at the server and
    // the answers of the last event-loop turn, not yet in the ledger (their slots already reused: 8 more).
    const counts = new Map<string, number>();
    for (const l of server.log) counts.set(l.prompt, (counts.get(l.prompt) ?? 0) + 1);
    expect(counts.size).toBe(N);
    expect([...counts.values()].filter((c) => c > 1).length).toBeLessThanOrEqual(3 * 2 * 8);
  }, 180_000);
});
