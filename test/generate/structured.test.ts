/**
 * Structured output that holds: answers checked against generate.json_schema, invalid ones asked
 * for again (with what was wrong, fresh from the server, not from the cache), failures counted by
 * kind, and a valid answer's fields as export columns on both export paths.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readExport } from '../../src/export/stage.js';
import type { GenerateMetrics } from '../../src/generate/metrics.js';
import { metricsPath, shardPath } from '../../src/generate/stage.js';
import { answerChecker, structuredColumns } from '../../src/generate/structured.js';
import { parquetSchema } from '../../src/io/parquet.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { mockServers } from '../helpers/mock-servers.js';
import { makePrompts, readSamples, tmp, writePrompts } from './helpers.js';

const mock = mockServers();
const SCHEMA = {
  type: 'object',
  properties: {
    title: { type: 'string', minLength: 3 },
    level: { type: 'integer', minimum: 1, maximum: 5 },
    tags: { type: 'array', items: { type: 'string' } },
    text: { type: 'string' },
  },
  required: ['title', 'level'],
  additionalProperties: false,
};

describe('structured output', () => {
  it('checks answers: JSON in or out of a code fence, against the schema, with what is wrong', () => {
    const check = answerChecker(SCHEMA);
    expect(check('{"title": "Tides", "level": 2}')).toEqual({ ok: true, value: { title: 'Tides', level: 2 } });
    expect(check('```json\n{"title": "Tides", "level": 2, "tags": ["sea"]}\n```')).toMatchObject({ ok: true, value: { tags: ['sea'] } });
    expect(check('Sure! Here it is: {"title": "Tides"')).toMatchObject({ ok: false, kind: 'not_json' });
    const wrong = check('{"title": "Ti", "level": 9, "extra": 1}');
    expect(wrong).toMatchObject({ ok: false, kind: 'schema' });
    expect(!wrong.ok && wrong.message).toMatch(/Unrecognized key: "extra".*>=3 characters.*at title.*<=5.*at level/);
    expect(check('[1, 2]')).toMatchObject({ ok: false, kind: 'schema' });
    expect(structuredColumns({ ...SCHEMA, properties: { ...SCHEMA.properties, 'odd name': { type: 'string' }, score: { type: ['number', 'null'] } } })).toEqual({
      title: 'VARCHAR',
      level: 'BIGINT',
      tags: 'JSON',
      text: 'VARCHAR',
      score: 'DOUBLE',
    });
  });

  it('refuses a schema it cannot check, naming the key', () => {
    const dir = tmp();
    expect(() =>
      parseConfig({ name: 'x', output: dir, seeds: [{ kind: 'web', path: 'unused.jsonl' }], generate: { json_schema: { type: 'object', properties: { a: { type: 'nonsense' } } } } }, { file: join(dir, 'corpus.yaml'), baseDir: dir }),
    ).toThrow(/generate\.json_schema/);
  });

  it('asks again for invalid answers with what was wrong, fails a prompt for good when they stay invalid, and exports the fields as columns', async () => {
    // Topic 3's answers are never valid; topics 0, 4 and 8 first answer with no JSON, 1 and 5 with a level out of range; the rest are valid.
    const valid = (topic: number) => JSON.stringify({ title: `Topic ${topic}`, level: 1 + (topic % 5), tags: ['t', String(topic)], text: `about ${topic}` });
    const s = await mock({
      reply: (prompt, n) => {
        const topic = Number(/topic number (\d+)/.exec(prompt)?.[1] ?? -1);
        // Asked again: the title-less answer (topic 3's) stays wrong; the others are put right, some in a code fence.
        if (prompt.startsWith('That answer was not valid')) return prompt.includes('at title') ? '{"title": "no"}' : n % 2 ? valid(100 + n) : '```json\n' + valid(200 + n) + '\n```';
        if (topic === 3) return '{"title": "no"}';
        if (topic % 4 === 0) return 'Here is a lovely section about tides.';
        if (topic === 1 || topic === 5) return JSON.stringify({ title: 'Out of range', level: 42 });
        return valid(topic);
      },
    });
    const dir = tmp();
    writePrompts(dir, makePrompts(10));
    const corpus = (exportFormats: string[]) =>
      parseConfig(
        {
          name: 'structured',
          output: dir,
          seeds: [{ kind: 'web', path: 'unused.jsonl' }],
          generate: { engines: [{ type: 'openai', base_url: s.url, model: 'm', concurrency: 2 }], json_schema: SCHEMA, json_retries: 2, max_failed_share: 1 },
          filter: { enabled: false },
          dedup: { enabled: false },
          decontaminate: { enabled: false },
          export: { formats: exportFormats },
        },
        { file: join(dir, 'corpus.yaml'), baseDir: dir },
      );
    await runPipeline(corpus(['parquet']), { only: ['generate', 'export'], log: silentLogger });

    const samples = readSamples(shardPath(join(dir, 'generate'), 0));
    const ok = samples.filter((x) => !x.error);
    expect(ok).toHaveLength(9);
    for (const x of ok) expect(x.structured).toEqual(JSON.parse(x.text.replace(/^```json\n|\n```$/g, '')));
    const failed = samples.find((x) => x.error)!;
    expect(failed.error_kind).toBe('schema_mismatch');
    expect(failed.error).toMatch(/after 3 answers, none valid; the last is .*level/);
    // Topic 3: its first answer and two more with feedback, each sent the invalid answer back.
    const topic3 = s.log.filter((e) => e.body.messages && JSON.stringify(e.body.messages).includes('topic number 3 '));
    expect(topic3).toHaveLength(3);
    expect((topic3[2]!.body.messages as { role: string; content: string }[]).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect((topic3[2]!.body.messages as { content: string }[])[2]!.content).toMatch(/^That answer was not valid: .*expected number, received undefined.*at level/);

    const metrics = JSON.parse(readFileSync(metricsPath(join(dir, 'generate'), 0), 'utf8')) as GenerateMetrics;
    // not JSON: topics 0, 4, 8; not valid: topics 1, 5 once each, and topic 3 three times.
    expect(metrics.invalid_answers_by_kind).toEqual({ not_json: 3, schema: 5 });
    expect(metrics.failed_by_kind).toEqual({ schema_mismatch: 1 });
    // Every retry reached the server, although the request cache is on: 10 first answers and 7 more.
    expect(s.stats.completed).toBe(17);

    const check = async () => {
      const rows = await readExport(join(dir, 'export'));
      expect(rows).toHaveLength(9);
      const two = rows.find((r) => r.title === 'Topic 2')!;
      expect(two).toMatchObject({ title: 'Topic 2', structured_text: 'about 2' });
      // BIGINT comes back from DuckDB's JSON rows as a string.
      expect(Number(two.level)).toBe(3);
      expect(JSON.parse(String(two.tags))).toEqual(['t', '2']);
      // The sample's own text column is untouched.
      expect(String(two.text)).toContain('"title":"Topic 2"');
    };
    await check();
    const file = join(dir, 'export', '000-00000.parquet');
    expect(await parquetSchema(file)).toMatchObject({ title: 'VARCHAR', level: 'BIGINT', tags: 'JSON', structured_text: 'VARCHAR' });

    // The record-by-record path (two formats) makes the same columns.
    rmSync(join(dir, 'export'), { recursive: true, force: true });
    await runPipeline(corpus(['parquet', 'jsonl.gz']), { only: ['export'], log: silentLogger });
    await check();
    expect(await parquetSchema(file)).toMatchObject({ title: 'VARCHAR', level: 'BIGINT', tags: 'JSON', structured_text: 'VARCHAR' });
  }, 60_000);
});
