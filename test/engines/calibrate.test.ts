/**
 * `threads`, `sequences` and `contexts: auto`: the settings timed in order, the fastest kept and
 * used without timing again, what the config fixes left alone; and the real engine calibrating itself.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrated, calibrationFile, type Measure } from '../../src/engines/calibrate.js';
import { createEmbeddedEngine } from '../../src/engines/embedded.js';
import { silentLogger } from '../../src/util/log.js';
import { tinyModelPath } from '../helpers/tiny-model.js';

/** A fake machine: tokens/s by setting (threads x sequences, or x contexts too when not 1), and the settings asked for. */
const machine = (speeds: Record<string, number>) => {
  const asked: string[] = [];
  const measure: Measure = async (t, s, c) => {
    const key = c === 1 ? `${t}x${s}` : `${t}x${s}x${c}`;
    asked.push(key);
    return speeds[key] ?? 1;
  };
  return { asked, measure };
};
const cores = availableParallelism();

describe('calibration', () => {
  it('times threads with one sequence, then more sequences until one is not faster, and keeps the fastest', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cosmo-cal-')), 'calibration.json');
    const m = machine({ '1x1': 100, '2x1': 120, '4x1': 90, '8x1': 80, '2x2': 150, '2x4': 140, '2x8': 300, '2x2x2': 100 });
    const c = await calibrated('k1', { contexts: 1 }, m.measure, silentLogger, file);
    const threads = ['1x1', '2x1', '4x1', '8x1'].filter((s) => Number(s.split('x')[0]) <= cores);
    expect(m.asked).toEqual([...threads, '2x2', '2x4']);
    expect(c).toMatchObject({ threads: 2, sequences: 2, contexts: 1, kept: false });

    // Kept: the next load times nothing.
    const again = machine({});
    expect(await calibrated('k1', { contexts: 1 }, again.measure, silentLogger, file)).toMatchObject({ threads: 2, sequences: 2, kept: true });
    expect(again.asked).toEqual([]);

    // What the config fixes is not timed; a damaged file is measured again.
    writeFileSync(file, '{not json');
    const fixed = machine({ '1x1': 100, '1x2': 90 });
    expect(await calibrated('k2', { threads: 1, contexts: 1 }, fixed.measure, silentLogger, file)).toMatchObject({ threads: 1, sequences: 1 });
    expect(fixed.asked).toEqual(['1x1', '1x2']);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).toEqual(['k2']);
  });

  it('then times more contexts side by side, as many as the cores hold at the chosen threads, until one is not faster', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cosmo-cal-')), 'calibration.json');
    // One thread: 2, 3, … contexts up to the cores; here each is faster up to 3 contexts.
    const m = machine({ '1x1': 100, '1x2': 90, '1x1x2': 150, '1x1x3': 160, '1x1x4': 150 });
    const c = await calibrated('k3', { threads: 1 }, m.measure, silentLogger, file);
    const contexts = [2, 3, 4].filter((n) => n <= cores).slice(0, 3);
    expect(m.asked).toEqual(['1x1', '1x2', ...contexts.map((n) => `1x1x${n}`)]);
    expect(c.contexts).toBe(Math.min(3, cores));
    // Two threads a context on two cores leave no room for a second one: nothing more is timed.
    const two = machine({ '2x1': 100 });
    await calibrated('k4', { threads: 2, sequences: 1 }, two.measure, silentLogger, file);
    expect(two.asked).toEqual(cores >= 4 ? ['2x1', '2x1x2'] : ['2x1']);
  });

  it('calibrates the real engine on first load, reports it, and loads the kept choice after', async () => {
    const model = await tinyModelPath();
    const cfg = { type: 'embedded' as const, model, threads: 'auto' as const, sequences: 'auto' as const, context_size: 256, gpu: false as const };
    const engine = await createEmbeddedEngine(cfg);
    try {
      const c = engine.calibration!;
      expect(c.figures.length).toBeGreaterThanOrEqual(2);
      expect(c.figures.every((f) => f.tokens_per_s > 0)).toBe(true);
      // The choice is the fastest setting timed, and the engine runs with it.
      const best = c.figures.reduce((a, f) => (f.tokens_per_s > a.tokens_per_s ? f : a));
      expect([c.threads, c.sequences, c.contexts]).toEqual([best.threads, best.sequences, best.contexts]);
      expect(engine.concurrency).toBe(c.sequences * c.contexts);
      const answer = await engine.complete({ messages: [{ role: 'user', content: 'hello' }], params: { temperature: 0.7, top_p: 0.9, max_tokens: 8 } });
      expect(answer.usage.completion_tokens).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
    const written = statSync(calibrationFile()).mtimeMs;
    const again = await createEmbeddedEngine(cfg);
    try {
      expect(again.calibration).toMatchObject({ threads: engine.calibration!.threads, sequences: engine.calibration!.sequences, contexts: engine.calibration!.contexts });
      expect(statSync(calibrationFile()).mtimeMs).toBe(written);
    } finally {
      await again.close();
    }
  }, 120_000);
});
