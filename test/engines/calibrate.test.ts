/**
 * `threads: auto` and `sequences: auto`: the settings timed in order, the fastest kept and used
 * without timing again, what the config fixes left alone; and the real engine calibrating itself.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrated, calibrationFile, type Measure } from '../../src/engines/calibrate.js';
import { createEmbeddedEngine } from '../../src/engines/embedded.js';
import { silentLogger } from '../../src/util/log.js';
import { tinyModelPath } from '../helpers/tiny-model.js';

/** A fake machine: tokens/s by setting, and the settings asked for. */
const machine = (speeds: Record<string, number>) => {
  const asked: string[] = [];
  const measure: Measure = async (t, s) => {
    asked.push(`${t}x${s}`);
    return speeds[`${t}x${s}`] ?? 1;
  };
  return { asked, measure };
};

describe('calibration', () => {
  it('times threads with one sequence, then more sequences until one is not faster, and keeps the fastest', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cosmo-cal-')), 'calibration.json');
    const m = machine({ '1x1': 100, '2x1': 120, '4x1': 90, '8x1': 80, '2x2': 150, '2x4': 140, '2x8': 300 });
    const c = await calibrated('k1', {}, m.measure, silentLogger, file);
    const threads = ['1x1', '2x1', '4x1', '8x1'].filter((s) => Number(s.split('x')[0]) <= availableParallelism());
    expect(m.asked).toEqual([...threads, '2x2', '2x4']);
    expect(c).toMatchObject({ threads: 2, sequences: 2, kept: false });

    // Kept: the next load times nothing.
    const again = machine({});
    expect(await calibrated('k1', {}, again.measure, silentLogger, file)).toMatchObject({ threads: 2, sequences: 2, kept: true });
    expect(again.asked).toEqual([]);

    // What the config fixes is not timed; a damaged file is measured again.
    writeFileSync(file, '{not json');
    const fixed = machine({ '1x1': 100, '1x2': 90 });
    expect(await calibrated('k2', { threads: 1 }, fixed.measure, silentLogger, file)).toMatchObject({ threads: 1, sequences: 1 });
    expect(fixed.asked).toEqual(['1x1', '1x2']);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).toEqual(['k2']);
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
      expect([c.threads, c.sequences]).toEqual([best.threads, best.sequences]);
      expect(engine.concurrency).toBe(c.sequences);
      const answer = await engine.complete({ messages: [{ role: 'user', content: 'hello' }], params: { temperature: 0.7, top_p: 0.9, max_tokens: 8 } });
      expect(answer.usage.completion_tokens).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
    const written = statSync(calibrationFile()).mtimeMs;
    const again = await createEmbeddedEngine(cfg);
    try {
      expect(again.calibration).toMatchObject({ threads: engine.calibration!.threads, sequences: engine.calibration!.sequences });
      expect(statSync(calibrationFile()).mtimeMs).toBe(written);
    } finally {
      await again.close();
    }
  }, 120_000);
});
