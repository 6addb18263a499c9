import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../embed/linalg.js';
import { loadTokenizer } from '../engines/tokenizer.js';
import { datasetSamples, defineStage, type CorpusEnv, type TaskContext } from '../exec/stage.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { upsertSection } from '../io/markdown.js';
import { SAMPLE_RECORD } from '../records/check.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { tokenizeSchema, type TokenizeConfig } from './config.js';
import { TokenFileWriter, tokenWidth, type TokenFormat } from './formats.js';

const rankName = (rank: number) => String(rank).padStart(5, '0');
/** The tokenizer to load: local paths against the corpus file's folder; `hf:` models as they are. */
const tokenizerSpec = (cfg: TokenizeConfig, corpus: CorpusEnv): string => {
  if (!cfg.tokenizer) throw new CosmoError('tokenize.tokenizer: name a tokenizer.json, a folder with one, or a .gguf model (no embedded generate engine to take it from)');
  return cfg.tokenizer.startsWith('hf:') ? cfg.tokenizer : corpus.resolve(cfg.tokenizer);
};
/** Scratch files above this size are read document by document rather than whole. */
const READ_WHOLE_BYTES = 1 << 30;

/**
 * Pass 1: every document's ids and its end-of-text token, as uint32 into a scratch file, in input
 * order. Returns each document's length.
 */
async function tokenizeInput(ctx: TaskContext<Sample>, encode: (text: string) => number[], eos: number, scratch: string): Promise<number[]> {
  const fd = openSync(scratch, 'w');
  const lengths: number[] = [];
  let buf = Buffer.allocUnsafe(1 << 22);
  let used = 0;
  try {
    for await (const s of datasetSamples(ctx)) {
      const ids = encode(s.text);
      ids.push(eos);
      const bytes = 4 * ids.length;
      if (used + bytes > buf.length) {
        writeSync(fd, buf, 0, used);
        used = 0;
        if (bytes > buf.length) buf = Buffer.allocUnsafe(bytes);
      }
      for (const id of ids) used = buf.writeUInt32LE(id, used);
      lengths.push(ids.length);
      ctx.stats.inc('documents');
      ctx.stats.inc('tokens', ids.length);
    }
    writeSync(fd, buf, 0, used);
  } finally {
    closeSync(fd);
  }
  return lengths;
}

/** Pass 2: the documents in their final order (seeded shuffle, as datatrove does), into each format's files. */
function writeFiles(cfg: TokenizeConfig, ctx: TaskContext<Sample>, scratch: string, lengths: number[], vocabSize: number, tokenizerName: string): void {
  const n = lengths.length;
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  if (cfg.shuffle) {
    const random = seededRandom((ctx.corpus.seed * 1_000_003 + ctx.rank) >>> 0);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
  }
  const starts = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) starts[i + 1] = starts[i]! + lengths[i]!;
  const size = statSync(scratch).size;
  const whole = size <= READ_WHOLE_BYTES ? readFileSync(scratch) : undefined;
  const fd = whole ? undefined : openSync(scratch, 'r');
  const doc = (i: number): Uint32Array => {
    const bytes = Buffer.allocUnsafe(4 * lengths[i]!);
    if (whole) whole.copy(bytes, 0, 4 * starts[i]!, 4 * starts[i + 1]!);
    else readSync(fd!, bytes, 0, bytes.length, 4 * starts[i]!);
    return new Uint32Array(bytes.buffer, bytes.byteOffset, lengths[i]!);
  };
  const writers = new Map<TokenFormat, { writer: TokenFileWriter; files: number }>();
  const open = (format: TokenFormat, files: number) => {
    mkdirSync(join(ctx.outputDir, format), { recursive: true });
    const base = join(ctx.outputDir, format, `${rankName(ctx.rank)}_${rankName(files)}`);
    writers.set(format, { writer: new TokenFileWriter(format, base, tokenWidth(format, vocabSize), tokenizerName), files: files + 1 });
    ctx.stats.inc(`files.${format}`);
  };
  try {
    for (const format of cfg.formats) open(format, 0);
    for (let k = 0; k < n; k++) {
      ctx.signal.throwIfAborted();
      const ids = doc(order[k]!);
      for (const format of cfg.formats) {
        let w = writers.get(format)!;
        if (cfg.max_tokens_per_file && w.writer.tokens > 0 && w.writer.tokens + ids.length > cfg.max_tokens_per_file) {
          w.writer.close();
          open(format, w.files);
          w = writers.get(format)!;
        }
        w.writer.write(ids);
      }
    }
    for (const { writer } of writers.values()) writer.close();
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** What a finished stage wrote, file by file: for summary.json and the card. */
function listFiles(dir: string, format: TokenFormat): { file: string; documents: number; bytes: number }[] {
  const sub = join(dir, format);
  if (!existsSync(sub)) return [];
  const ext = format === 'datatrove' ? '.ds' : '.bin';
  return readdirSync(sub)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => {
      const index = join(sub, format === 'datatrove' ? `${f}.index` : f.replace(/\.bin$/, '.idx'));
      const documents = format === 'datatrove' ? statSync(index).size / 8 : Number(readFileSync(index).readBigUInt64LE(18));
      return { file: `${format}/${f}`, documents, bytes: statSync(join(sub, f)).size };
    });
}

/**
 * tokenize: the corpus as training-ready token files, the way datatrove's DocumentTokenizer feeds
 * nanotron (and Megatron's preprocess_data feeds Megatron): the model's own tokenizer, an
 * end-of-text token after every document, the documents of each task in a seeded random order.
 * It reads the same samples export writes (failed requests left out), so every document decodes to
 * its exported text; or, when mix is on, the mix.
 */
export const tokenizeStage = defineStage({
  name: 'tokenize',
  key: 'tokenize',
  schema: tokenizeSchema.prefault({}),
  description: 'tokenize the corpus into training-ready shards (datatrove/nanotron .ds, Megatron .bin/.idx)',
  input: { records: SAMPLE_RECORD },
  reads: ['export'],
  settings: (cfg, corpus) => ({ ...cfg, seed: corpus.seed }),
  enabled: (cfg) => cfg.enabled,
  tasks: (cfg) => cfg.tasks,
  inputFiles: (cfg, corpus) => {
    const spec = tokenizerSpec(cfg, corpus);
    return spec.startsWith('hf:') ? [] : [spec];
  },
  async check(cfg, corpus) {
    const spec = tokenizerSpec(cfg, corpus);
    if (!spec.startsWith('hf:') && !existsSync(spec)) throw new CosmoError(`tokenize.tokenizer: ${spec} does not exist (give a tokenizer.json, a folder with one, or a .gguf model)`);
  },
  async runTask(cfg, ctx) {
    // A killed earlier attempt of this task may have left some of its files: they are made again.
    const mine = `${rankName(ctx.rank)}_`;
    for (const format of ['datatrove', 'megatron'] as const) {
      const sub = join(ctx.outputDir, format);
      if (existsSync(sub)) for (const f of readdirSync(sub)) if (f.startsWith(mine)) rmSync(join(sub, f), { force: true });
    }
    mkdirSync(ctx.outputDir, { recursive: true });
    const tok = await loadTokenizer(tokenizerSpec(cfg, ctx.corpus), ctx.log);
    const eos = cfg.eos === undefined ? tok.eos : tok.tokenId(cfg.eos);
    if (eos === undefined)
      throw new CosmoError(cfg.eos === undefined ? `tokenize.eos: tokenizer ${tok.name} names no end-of-text token; set the one to write after each document` : `tokenize.eos: tokenizer ${tok.name} has no token "${cfg.eos}"`);
    ctx.stats.note('tokenizer', tok.name);
    ctx.stats.observe('vocab_size', tok.vocabSize);
    ctx.stats.observe('eos', eos);
    const scratch = join(ctx.outputDir, `.${rankName(ctx.rank)}.scratch`);
    try {
      const lengths = await tokenizeInput(ctx, (t) => tok.encode(t), eos, scratch);
      writeFiles(cfg, ctx, scratch, lengths, tok.vocabSize, tok.name);
    } finally {
      rmSync(scratch, { force: true });
    }
    ctx.log.info('tokenized', { documents: ctx.stats.get('documents'), tokens: ctx.stats.get('tokens'), dir: ctx.outputDir });
  },
  async finalize(cfg, ctx) {
    const vocab = ctx.stats.summaries.vocab_size?.max ?? 0;
    const formats = Object.fromEntries(
      cfg.formats.map((format) => [format, { token_bytes: tokenWidth(format, vocab), files: listFiles(ctx.outputDir, format) }]),
    );
    const summary = {
      tokenizer: ctx.stats.notes.tokenizer ?? null,
      vocab_size: vocab,
      eos: ctx.stats.summaries.eos?.max ?? null,
      documents: ctx.stats.get('documents'),
      tokens: ctx.stats.get('tokens'),
      shuffled: cfg.shuffle,
      formats,
    };
    await writeJsonAtomic(join(ctx.outputDir, 'summary.json'), summary);
    const card = join(ctx.dir('export'), 'README.md');
    if (existsSync(card))
      await upsertSection(
        card,
        'Tokenized for training',
        [
          `${summary.tokens.toLocaleString('en-US')} tokens in ${summary.documents.toLocaleString('en-US')} documents, tokenized with \`${summary.tokenizer}\` (${vocab.toLocaleString('en-US')} ids); token ${summary.eos} ends every document${cfg.shuffle ? ', and the documents are in a seeded random order' : ''}.`,
          '',
          ...cfg.formats.map((f) => `- ${f === 'datatrove' ? 'datatrove / nanotron (`.ds`, `.ds.index`)' : 'Megatron (`.bin`, `.idx`)'}: ${formats[f]!.files.length} file(s), ${formats[f]!.token_bytes} bytes a token`),
        ].join('\n'),
      );
  },
});
