/**
 * The tokenize stage: the model's own tokenizer (a tokenizer.json through the fast byte-level path,
 * or a GGUF's vocabulary through llama.cpp), training files in datatrove's and Megatron's formats
 * read back and decoded to the exported text, seeded shuffling, and the card's section.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { tokenizerFromJson } from '../../src/engines/tokenizer.js';
import { readExport } from '../../src/export/stage.js';
import { writeShard } from '../../src/io/shards.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { readTokenFile, TokenFileWriter, tokenWidth, type TokenFormat } from '../../src/tokenize/formats.js';
import { silentLogger } from '../../src/util/log.js';
import { makeSample } from '../helpers/sample.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { tinyModelPath } from '../helpers/tiny-model.js';

const SMOLLM2 = sharedPath('tokenizers/smollm2-135m-tokenizer.json');

/** Real text: web, Wikipedia and OpenStax seeds, one document a line. */
function realTexts(limit: number): string[] {
  const out: string[] = [];
  for (const f of ['seed/web/c4_demo.jsonl', 'seed/openstax/openstax_toc_intros.jsonl', 'seed/web/dolma_cc_en_head-0091.jsonl', 'seed/web/dolma_cc_en_head-0174.jsonl']) {
    for (const line of readFileSync(sharedPath(f), 'utf8').split('\n').filter(Boolean)) {
      const j = JSON.parse(line) as Record<string, unknown>;
      const text = [j.text, j.abstract].find((v) => typeof v === 'string' && v.length > 0) as string | undefined;
      if (text) out.push(text);
    }
  }
  return out.slice(0, limit);
}

/** Texts that stress a byte-level tokenizer: digits, CJK, emoji, whitespace runs, CRLF, an added token written out. */
const ODD = [
  'In 2024, 3.14159 × 10^5 = 314159; call +1-800-555-0199.',
  '日本語のテキストと中文文本，混合 English words.',
  'Emoji 👩‍🔬🧪 and accents: naïve café, Ångström, Œuvre.',
  'Tabs\tand   spaces\n\n\nand\r\nCRLF line ends   ',
  'A document that mentions <|endoftext|> and <|im_start|>user in its text.',
  "Contractions: it's, we're, they've, I'm, you'll, he'd — and 'quoted'.",
  '',
  ' leading space, trailing space ',
];

/** A corpus whose tokenize stage reads `texts` as samples (from dedup's folder, the stage before export). */
async function corpus(texts: string[], tokenize: Record<string, unknown>, generate: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-tokenize-'));
  const samples = texts.map((t, i) => makeSample(t, { model: 'm', ...(i === 3 ? { error: 'HTTP 500', text: '' } : {}) }));
  for (let s = 0; s < 2; s++) await writeShard(join(dir, 'dedup', `${s}.jsonl`), samples.filter((_, i) => i % 2 === s));
  const cfg = parseConfig(
    {
      output: dir,
      seeds: [{ kind: 'web', path: 'unused.jsonl' }],
      generate: { engines: [{ type: 'openai', base_url: 'http://gpu01.internal:8000/v1', model: 'm' }], ...generate },
      filter: { enabled: false },
      tokenize: { enabled: true, ...tokenize },
    },
    { file: join(dir, 'corpus.yaml'), baseDir: dir },
  );
  return { dir, cfg, samples };
}

/** Every document of a format's files, decoded, without its end-of-text token (which is checked). */
function decodedDocs(dir: string, format: TokenFormat, decode: (ids: ArrayLike<number>) => string, eos: number): string[] {
  const sub = join(dir, 'tokenize', format);
  const ext = format === 'datatrove' ? '.ds' : '.bin';
  const out: string[] = [];
  for (const f of readdirSync(sub).filter((x) => x.endsWith(ext)).sort()) {
    for (const doc of readTokenFile(format, join(sub, f.slice(0, -ext.length)))) {
      expect(doc.at(-1)).toBe(eos);
      out.push(decode(doc.subarray(0, -1)));
    }
  }
  return out;
}

describe('tokenizer', () => {
  it.runIf(hasSharedData)('gives the ids of @huggingface/tokenizers on real text, and decodes back to it', () => {
    const fast = tokenizerFromJson(SMOLLM2);
    const lib = new Tokenizer(JSON.parse(readFileSync(SMOLLM2, 'utf8')), {});
    const texts = [...realTexts(1500), ...ODD];
    expect(texts.length).toBeGreaterThan(1000);
    let mismatched = 0;
    for (const t of texts) {
      const ids = fast.encode(t);
      const want = lib.encode(t, { add_special_tokens: false }).ids;
      if (ids.length !== want.length || ids.some((x, i) => x !== want[i])) mismatched++;
      expect(fast.decode(ids)).toBe(t);
    }
    expect(mismatched).toBe(0);
    expect(fast.vocabSize).toBe(49152);
    expect(fast.eos).toBe(0);
    expect(fast.tokenId('<|im_end|>')).toBe(2);
  });

  it.runIf(hasSharedData)('takes the tokenizer.json next to a GGUF model over the GGUF\'s own vocabulary', async () => {
    const { loadTokenizer } = await import('../../src/engines/tokenizer.js');
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-beside-'));
    copyFileSync(await tinyModelPath(), join(dir, 'model.gguf'));
    expect((await loadTokenizer(join(dir, 'model.gguf'))).vocabSize).toBeLessThan(1000);
    copyFileSync(SMOLLM2, join(dir, 'tokenizer.json'));
    const beside = await loadTokenizer(join(dir, 'model.gguf'));
    expect([beside.name, beside.vocabSize]).toEqual(['tokenizer.json', 49152]);
    expect(await loadTokenizer(dir).then((t) => t.vocabSize)).toBe(49152);
  });

  it('stores tokens in 2 bytes below 65,536 ids (Megatron: 65,500) and in 4 above, and reads both back', () => {
    expect([tokenWidth('datatrove', 49152), tokenWidth('datatrove', 65535), tokenWidth('datatrove', 65536)]).toEqual([2, 2, 4]);
    expect([tokenWidth('megatron', 65499), tokenWidth('megatron', 65500), tokenWidth('megatron', 128256)]).toEqual([2, 4, 4]);
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-tokfile-'));
    const docs = [[5, 70000, 128000, 0], [1, 0], [99999, 3, 0]];
    for (const format of ['datatrove', 'megatron'] as const) {
      const w = new TokenFileWriter(format, join(dir, format), tokenWidth(format, 128256), 'big-vocab');
      for (const d of docs) w.write(d);
      w.close();
      expect(readTokenFile(format, join(dir, format)).map((d) => [...d])).toEqual(docs);
    }
    // Megatron's header: magic, version 1, dtype code 4 (int32), 3 sequences, 4 document boundaries.
    const idx = readFileSync(join(dir, 'megatron.idx'));
    expect(idx.subarray(0, 9).toString('latin1')).toBe('MMIDIDX\x00\x00');
    expect([idx.readBigUInt64LE(9), idx.readUInt8(17), idx.readBigUInt64LE(18), idx.readBigUInt64LE(26)]).toEqual([1n, 4, 3n, 4n]);
    expect(readFileSync(join(dir, 'datatrove.ds.metadata'), 'utf8')).toBe('big-vocab\n9\n9 T');
  });
});

describe('tokenize stage', () => {
  it.runIf(hasSharedData)('writes datatrove and Megatron files whose documents decode to the exported text, shuffled the same way every time', async () => {
    const texts = [...realTexts(200), ...ODD.filter(Boolean)];
    const c = await corpus(texts, { tokenizer: SMOLLM2, formats: ['datatrove', 'megatron'], tasks: 2, max_tokens_per_file: 20_000 }, {});
    const [exp, tok] = await runPipeline(c.cfg, { only: ['export', 'tokenize'], log: silentLogger });
    const exported = (await readExport(join(c.dir, 'export'))).map((r) => r.text as string);
    expect(exported.length).toBe(texts.length - 1);
    const decoder = tokenizerFromJson(SMOLLM2);
    for (const format of ['datatrove', 'megatron'] as const) {
      const docs = decodedDocs(c.dir, format, (ids) => decoder.decode(ids), 0);
      expect(docs.sort()).toEqual([...exported].sort());
    }
    expect(exp!.stats.counters.rows).toBe(texts.length - 1);
    const counters = tok!.stats.counters;
    expect(counters.documents).toBe(texts.length - 1);
    expect(counters.failed_skipped).toBe(1);
    // Two tasks, each cut into files of at most 20k tokens.
    const files = readdirSync(join(c.dir, 'tokenize/datatrove')).filter((f) => f.endsWith('.ds'));
    expect(files.some((f) => f.startsWith('00000_00001'))).toBe(true);
    expect(files.some((f) => f.startsWith('00001_'))).toBe(true);
    const summary = JSON.parse(readFileSync(join(c.dir, 'tokenize/summary.json'), 'utf8'));
    expect(summary).toMatchObject({ tokenizer: 'smollm2-135m-tokenizer.json', vocab_size: 49152, eos: 0, documents: texts.length - 1, tokens: counters.tokens });
    expect(summary.formats.megatron.token_bytes).toBe(2);
    const sizes = (format: TokenFormat) => summary.formats[format].files.reduce((n: number, f: { bytes: number }) => n + f.bytes, 0);
    expect(sizes('datatrove')).toBe(2 * counters.tokens!);
    expect(sizes('megatron')).toBe(2 * counters.tokens!);
    // Shuffled: not the input order, but the same order on a second run.
    const order = decodedDocs(c.dir, 'datatrove', (ids) => decoder.decode(ids), 0);
    const first = readFileSync(join(c.dir, 'tokenize/datatrove/00000_00000.ds'));
    expect(order).not.toEqual(exported);
    const again = await corpus(texts, { tokenizer: SMOLLM2, formats: ['datatrove'], tasks: 2, max_tokens_per_file: 20_000 });
    await runPipeline(again.cfg, { only: ['export', 'tokenize'], log: silentLogger });
    expect(readFileSync(join(again.dir, 'tokenize/datatrove/00000_00000.ds')).equals(first)).toBe(true);
    // The card says how the corpus was tokenized.
    expect(readFileSync(join(c.dir, 'export/README.md'), 'utf8')).toContain(`## Tokenized for training\n\n${counters.tokens!.toLocaleString('en-US')} tokens in ${texts.length - 1} documents, tokenized with \`smollm2-135m-tokenizer.json\``);
  }, 60_000);

  it("uses the embedded model's own vocabulary (llama.cpp) when it names no tokenizer, and says which end-of-text token is missing", async () => {
    const model = await tinyModelPath();
    const texts = ['The cell membrane controls what enters the cell.', 'Rivers carry sediment to the sea.', 'Fractions name parts of a whole.', 'failed', 'Photosynthesis makes sugar from light.'];
    const c = await corpus(texts, { formats: ['megatron'] }, { engines: [{ type: 'embedded', model }] });
    expect(c.cfg.tokenize.tokenizer).toBe(model);
    await runPipeline(c.cfg, { only: ['export', 'tokenize'], log: silentLogger });
    const { loadTokenizer } = await import('../../src/engines/tokenizer.js');
    const tok = await loadTokenizer(model);
    const docs = decodedDocs(c.dir, 'megatron', (ids) => tok.decode(ids), tok.eos!);
    expect(docs.sort()).toEqual(texts.filter((t) => t !== 'failed').sort());
    const bad = await corpus(texts, { eos: '<no-such-token>' }, { engines: [{ type: 'embedded', model }] });
    await expect(runPipeline(bad.cfg, { only: ['export', 'tokenize'], log: silentLogger })).rejects.toThrow('tokenize.eos: tokenizer tiny.gguf has no token "<no-such-token>"');
  }, 60_000);

  it('names a tokenizer that is not there before anything runs', async () => {
    const c = await corpus(['a text'], { tokenizer: 'missing/tokenizer.json' });
    writeFileSync(join(c.dir, 'unused.jsonl'), '');
    await expect(runPipeline(c.cfg, { only: ['tokenize'], log: silentLogger })).rejects.toThrow(/tokenize\.tokenizer: .*missing\/tokenizer\.json does not exist/);
  });
});
