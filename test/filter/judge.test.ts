import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { embeddedEngineSchema } from '../../src/engines/config.js';
import { createEngine } from '../../src/engines/create.js';
import { collect, readAll, writeShard } from '../../src/io/shards.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { filterSchema } from '../../src/filter/config.js';
import type { FilteredSample, RejectedSample } from '../../src/filter/filter.js';
import { JUDGE_SCHEMA, Judge, loadRubric, parseJudgement } from '../../src/filter/judge.js';
import type { Sample } from '../../src/records/types.js';
import { silentLogger } from '../../src/util/log.js';
import { tinyModelPath } from '../helpers/tiny-model.js';
import { makeSample } from '../helpers/sample.js';
import { seedTexts, spamAssassinBodies } from '../dedup/planted.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cosmo-judge-'));

/** The judge's samples: middle-school textbook sections of 400 tokens unless `over` says otherwise. */
const sample = (text: string, over: Partial<Sample> = {}): Sample =>
  makeSample(text, {
    prompt: 'Write a textbook section for middle school students about the extract.',
    audience: 'middle_school',
    token_length: 400,
    usage: { prompt_tokens: 10, completion_tokens: 400 },
    ...over,
  });

/** The grader of the HTTP judge below: a deterministic score from the judged text. */
const scoreOf = (text: string) => text.split(/\s+/).filter(Boolean).length % 6;

/**
 * A real OpenAI-compatible chat endpoint standing in for a judge model: it scores the text inside
 * the rubric's <extract>/<text> tags with scoreOf, answers garbage for texts containing GARBAGE,
 * and records each request body.
 */
async function startJudgeServer(latencyMs = 0): Promise<{ url: string; bodies: Record<string, unknown>[]; server: Server }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { messages: { role: string; content: string }[] };
      bodies.push(body);
      const user = body.messages.find((m) => m.role === 'user')!.content;
      const text = /<(?:extract|text)>\n([\s\S]*?)\n<\/(?:extract|text)>/.exec(user)?.[1] ?? '';
      const content = text.includes('GARBAGE') ? 'I think this is fine.' : JSON.stringify({ score: scoreOf(text), reason: `${text.length} chars` });
      const reply = JSON.stringify({
        id: 'x',
        object: 'chat.completion',
        created: 0,
        model: 'judge-model',
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 },
      });
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(reply), latencyMs);
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, bodies, server };
}

describe('judge rubrics', () => {
  it('ships the three rubrics as data', () => {
    for (const id of ['educational', 'adherence', 'consistency']) {
      const r = loadRubric(id);
      expect(r.prompt).toContain('{{text}}');
      expect(r.min_score).toBeGreaterThan(0);
    }
    expect(loadRubric('consistency').requires).toEqual(['seed_data']);
  });

  it('names the file of a bad rubric', () => {
    const file = join(tmp(), 'mine.yaml');
    writeFileSync(file, 'id: mine\nversion: 1\ndescription: x\nmin_score: 9\nsystem: s\nprompt: p\n');
    expect(() => loadRubric('mine', file)).toThrow(`${file}: min_score`);
    expect(() => loadRubric('nope')).toThrow(/no built-in judge rubric "nope"/);
  });

  it('reads a structured answer, or the score leading a reply cut short', () => {
    expect(parseJudgement('{"score": 4, "reason": "clear"}')).toEqual({ score: 4, reason: 'clear' });
    expect(parseJudgement('{"score":2,"reason":"the text rambles and')).toEqual({ score: 2, reason: '' });
    expect(() => parseJudgement('{"score": 7, "reason": ""}')).toThrow(/not a judgement/);
    expect(() => parseJudgement('Score: 4')).toThrow(/not a judgement/);
  });
});

describe('judge in the filter stage, over HTTP', () => {
  let judge: Awaited<ReturnType<typeof startJudgeServer>>;
  beforeAll(async () => {
    judge = await startJudgeServer();
  });
  afterAll(() => judge.server.close());

  it('drops samples under a rubric threshold with the reason, scores the rest, and skips rubrics that do not apply', async () => {
    const dir = tmp();
    const texts = [...seedTexts(150), ...spamAssassinBodies(150)].slice(0, 30).map((t) => t.split(/\s+/).slice(0, 300).join(' '));
    const samples = texts.map((t, i) => sample(t, i % 3 === 0 ? { seed_data: texts[(i + 1) % texts.length]! } : {}));
    samples.push(sample(`${texts[0]} GARBAGE`), sample('short', { token_length: 2 }));
    await writeShard(join(dir, 'generate', '0.jsonl'), samples);
    const corpus = parseConfig(
      {
        seeds: [{ kind: 'web', path: 'x.jsonl' }],
        output: dir,
        generate: { engines: [{ type: 'openai', base_url: judge.url, model: 'judge-model' }], cache: false },
        filter: {
          repetition: { enabled: false },
          judge: { enabled: true, concurrency: 4, rubrics: [{ id: 'educational' }, { id: 'consistency', min_score: 1 }] },
        },
      },
      { file: 'corpus.yaml', baseDir: dir },
    );
    judge.bodies.length = 0;
    const [result] = await runPipeline(corpus, { only: ['filter'], log: silentLogger });
    const kept = await collect(readAll<FilteredSample>(join(dir, 'filter')));
    const rejects = await collect(readAll<RejectedSample>(join(dir, 'filter', 'rejects')));

    // Output keeps the input order, whatever order the judgements finished in.
    const order = samples.map((s) => s.id);
    expect(kept.map((s) => order.indexOf(s.id))).toEqual([...kept.map((s) => order.indexOf(s.id))].sort((a, b) => a - b));

    for (const s of samples.slice(0, texts.length)) {
      const educational = scoreOf(s.text);
      const consistency = s.seed_data ? educational : undefined;
      const k = kept.find((x) => x.id === s.id);
      const r = rejects.find((x) => x.id === s.id);
      if (educational < 3) {
        expect(r).toMatchObject({ reject_reason: 'judge.educational', reject_detail: `score ${educational} < 3: ${s.text.length} chars` });
      } else if (consistency !== undefined && consistency < 1) {
        expect(r?.reject_reason).toBe('judge.consistency');
      } else {
        expect(k?.judge_scores).toEqual(consistency === undefined ? { educational } : { educational, consistency });
      }
    }
    // The unparsable answer leaves its sample kept, unjudged, and counted.
    expect(kept.find((s) => s.text.endsWith('GARBAGE'))!.judge_scores).toBeUndefined();
    expect(result!.stats.counters['judge_failed.educational']).toBe(1);
    // The heuristics run first: a sample they drop is never sent to the judge.
    expect(rejects.find((s) => s.text === 'short')!.reject_reason).toBe('too_short');
    const judged = judge.bodies.map((b) => (b as { messages: { content: string }[] }).messages[1]!.content);
    expect(judged.some((c) => c.includes('<extract>\nshort\n'))).toBe(false);
    // Consistency is asked only for samples with seed data, and only after passing the educational rubric.
    const passedEducational = samples.slice(0, texts.length).filter((s) => scoreOf(s.text) >= 3);
    expect(judged.filter((c) => c.includes('<reference>'))).toHaveLength(passedEducational.filter((s) => s.seed_data).length);
    expect(judge.bodies).toHaveLength(texts.length + 1 + passedEducational.filter((s) => s.seed_data).length);
    // Structured output and greedy sampling were asked for.
    const body = judge.bodies[0] as { response_format: { json_schema: { schema: unknown } }; temperature: number };
    expect(body.response_format.json_schema.schema).toEqual(JUDGE_SCHEMA);
    expect(body.temperature).toBe(0);
    expect(kept.length + rejects.length).toBe(samples.length);
  });
});

describe('filter stage interrupted', () => {
  it('leaves no partial shard and redoes the task on rerun', async () => {
    const slow = await startJudgeServer(30);
    try {
      const dir = tmp();
      const samples = seedTexts(150).concat(spamAssassinBodies(150)).slice(0, 60).map((t) => sample(t));
      await writeShard(join(dir, 'generate', '0.jsonl'), samples);
      const corpus = parseConfig(
        {
          seeds: [{ kind: 'web', path: 'x.jsonl' }],
          output: dir,
          generate: { engines: [{ type: 'openai', base_url: slow.url, model: 'judge-model' }], cache: false },
          filter: { repetition: { enabled: false }, judge: { enabled: true, concurrency: 2 } },
        },
        { file: 'corpus.yaml', baseDir: dir },
      );
      const stop = new AbortController();
      const run = runPipeline(corpus, { only: ['filter'], log: silentLogger, signal: stop.signal });
      while (slow.bodies.length < 10) await new Promise((r) => setTimeout(r, 10));
      stop.abort(new Error('interrupted'));
      await expect(run).rejects.toThrow();
      expect(await collect(readAll(join(dir, 'filter')))).toEqual([]);
      expect(await collect(readAll(join(dir, 'filter', 'rejects')))).toEqual([]);

      await runPipeline(corpus, { only: ['filter'], log: silentLogger });
      const out = [...(await collect(readAll<Sample>(join(dir, 'filter')))), ...(await collect(readAll<Sample>(join(dir, 'filter', 'rejects'))))];
      expect(out.map((s) => s.id).sort()).toEqual(samples.map((s) => s.id).sort());
    } finally {
      slow.server.close();
    }
  });
});

describe('judge with the embedded engine', () => {
  it('gets a schema-valid score from a real llama.cpp model through a JSON-schema grammar', async () => {
    const engine = await createEngine(
      embeddedEngineSchema.parse({ type: 'embedded', model: await tinyModelPath(), threads: 1, sequences: 1, context_size: 8192 }),
      { log: silentLogger },
    );
    try {
      const cfg = filterSchema.parse({ judge: { enabled: true, max_tokens: 48, max_text_chars: 600 } }).judge;
      const j = new Judge(engine, cfg);
      const texts = seedTexts(100).concat(spamAssassinBodies(100)).slice(0, 2);
      for (const t of texts) {
        const v = await j.judge(sample(t));
        // Random weights give a random score, but always one in 0..5 that the rubric acts on.
        if (v.keep) {
          expect(v.failed).toEqual([]);
          expect(v.scores.educational).toBeGreaterThanOrEqual(3);
        } else {
          expect(v.score).toBeGreaterThanOrEqual(0);
          expect(v.score).toBeLessThan(3);
          expect(v.detail).toMatch(/^score [0-2] < 3/);
        }
      }
    } finally {
      await engine.close();
    }
  });
});
