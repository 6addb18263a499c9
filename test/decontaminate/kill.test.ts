import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBenchmarkDir } from '../../src/decontaminate/benchmarks.js';
import { collect, readAll, writeShard } from '../../src/io/shards.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { rng, seedParagraphs } from './planted-corpus.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** Run `cosmo decontaminate`, killing it with SIGKILL `killAfterMs` after the index is built (or never). */
function decontaminate(dir: string, killAfterMs?: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cosmo.js'), 'decontaminate', 'corpus.yaml'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (killAfterMs !== undefined && stderr.includes('benchmarks indexed')) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  });
  return new Promise((done) => child.on('exit', (code, signal) => done({ code, signal, stderr })));
}

describe.skipIf(!hasSharedData)('decontaminate killed with SIGKILL', () => {
  it('leaves no partial shard, and a rerun keeps or removes every sample exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-decontam-kill-'));
    writeFileSync(
      join(dir, 'corpus.yaml'),
      ['name: k', 'seeds: [{ kind: web, path: none.jsonl }]', 'filter: { enabled: false }', 'dedup: { enabled: false }',
        `decontaminate: { tasks: 2, benchmarks_dir: ${JSON.stringify(sharedPath('bench'))}, benchmarks: [arc_easy] }`].join('\n') + '\n',
    );
    const { items } = await loadBenchmarkDir(sharedPath('bench'), ['arc_easy']);
    const paragraphs = seedParagraphs();
    const r = rng(3);
    const samples = Array.from({ length: 12_000 }, (_, i) => {
      const text = paragraphs[Math.floor(r() * paragraphs.length)]!;
      return { id: `s${i}`, text: i % 100 === 0 ? `${text}\n\n${items[i / 100]!.text}` : text };
    });
    const input = join(dir, 'out/k/generate');
    mkdirSync(input, { recursive: true });
    for (let s = 0; s < 4; s++) await writeShard(join(input, `${s}.jsonl`), samples.filter((_, i) => i % 4 === s));

    const out = join(dir, 'out/k/decontaminate');
    const killed = await decontaminate(dir, 50);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // Whatever the kill interrupted, no half-written shard is visible under a shard name.
    for (const f of readdirSync(out).filter((f) => f.endsWith('.jsonl'))) expect(f).toMatch(/^[01]\.jsonl$/);

    const rerun = await decontaminate(dir);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(readdirSync(out, { recursive: true }).filter((f) => String(f).includes('.tmp-'))).toEqual([]);
    const kept = await collect(readAll<{ id: string }>(out));
    const removed = await collect(readAll<{ id: string }>(join(out, 'removed')));
    const ids = [...kept, ...removed].map((s) => s.id);
    expect(ids.length).toBe(samples.length);
    expect(new Set(ids).size).toBe(samples.length);
    expect(removed.map((s) => s.id).sort()).toEqual(samples.filter((_, i) => i % 100 === 0).map((s) => s.id).sort());
  });
});
