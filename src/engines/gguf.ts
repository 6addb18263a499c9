/**
 * Writes llama-architecture GGUF v3 files with random weights.
 *
 * No real model weights can be had on the machines this project is built and tested on, so tests
 * and benchmarks write their own models: the text they produce is noise, but loading, tokenizing,
 * chat templating, batching and speed are real (the shapes decide the speed).
 * Layout facts: see the GGUF spec (ggml/docs/gguf.md); Q8_0 = 32 weights per 34-byte block.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { withAtomicPath } from '../io/atomic.js';
import { CosmoError, errorMessage } from '../util/errors.js';

export const GGUF_PRESETS = ['tiny', 'smollm2-135m'] as const;
export type GgufPreset = (typeof GGUF_PRESETS)[number];
export type WeightType = 'f32' | 'q8_0';

export interface TestModelOptions {
  preset?: GgufPreset;
  /** tokenizer.json (Hugging Face) whose vocabulary and merges the smollm2-135m preset uses. */
  tokenizer?: string;
  /** Same seed, same bytes. */
  seed?: number;
  /** Weight type of the matrices (norms stay F32). Default: f32 for tiny, q8_0 otherwise. */
  type?: WeightType;
}

export interface TestModelInfo {
  path: string;
  preset: GgufPreset;
  bytes: number;
  params: number;
  vocabSize: number;
  tensors: number;
  type: WeightType;
}

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

interface Shape {
  embd: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ff: number;
  contextLength: number;
  ropeBase: number;
}

const SHAPES: Record<GgufPreset, Shape> = {
  tiny: { embd: 64, layers: 2, heads: 4, kvHeads: 4, ff: 128, contextLength: 8192, ropeBase: 10000 },
  'smollm2-135m': { embd: 576, layers: 30, heads: 9, kvHeads: 3, ff: 1536, contextLength: 8192, ropeBase: 100000 },
};

/** Write a random-weight model for `preset` to `path` (atomically) and describe what was written. */
export async function writeTestModel(path: string, opts: TestModelOptions = {}): Promise<TestModelInfo> {
  const preset = opts.preset ?? 'tiny';
  if (!GGUF_PRESETS.includes(preset)) throw new CosmoError(`unknown model preset "${preset}" (choose ${GGUF_PRESETS.join(' or ')})`);
  const type = opts.type ?? (preset === 'tiny' ? 'f32' : 'q8_0');
  const shape = SHAPES[preset];
  let vocab: Vocab;
  if (preset === 'tiny') vocab = tinyVocab();
  else {
    if (!opts.tokenizer) throw new CosmoError(`the ${preset} preset needs a tokenizer.json (--tokenizer FILE) for its vocabulary`);
    vocab = await gpt2VocabFromTokenizerJson(opts.tokenizer);
  }
  const tensors = tensorList(shape, vocab.tokens.length, type);
  const meta = metadata(preset, shape, vocab);
  const { header, dataBytes } = encodeHeader(meta, tensors);
  await withAtomicPath(path, async (tmp) => {
    const fh = await open(tmp, 'w');
    try {
      await fh.write(header);
      const rng = new Rng(opts.seed ?? 0);
      let pos = 0; // within the data section
      for (const t of tensors) {
        if (t.offset > pos) await fh.write(new Uint8Array(t.offset - pos));
        pos = t.offset;
        for (const chunk of tensorChunks(t, rng, vocab)) {
          await fh.write(chunk);
          pos += chunk.length;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
  const bytes = (await stat(path)).size;
  if (bytes !== header.length + dataBytes) throw new Error(`GGUF writer bug: wrote ${bytes} bytes, expected ${header.length + dataBytes}`);
  const params = tensors.reduce((n, t) => n + t.dims.reduce((a, b) => a * b, 1), 0);
  return { path, preset, bytes, params, vocabSize: vocab.tokens.length, tensors: tensors.length, type };
}

// ---------------------------------------------------------------------------------------------
// Vocabularies

interface Vocab {
  model: 'llama' | 'gpt2';
  tokens: string[];
  types: number[]; // 1 normal, 2 unknown, 3 control, 6 byte
  scores?: number[];
  merges?: string[];
  bos: number;
  eos: number;
  unk: number;
  pad?: number;
}

const TINY_PIECES = [
  '▁', '▁the', '▁a', '▁of', '▁and', '▁to', '▁in', '▁is', '▁it', '▁that', '▁for', '▁on', '▁with', '▁as', '▁was',
  '▁this', '▁are', '▁be', '▁by', '▁you', '▁we', '▁can', '▁from', '▁or', '▁an', '▁at', '▁not', '▁all', '▁one',
  '▁story', '▁world', '▁learn', '▁book', 'ing', 'ed', 'er', 'es', 'ly', 'tion', 'e', 't', 'a', 'o', 'i', 'n',
];

/**
 * SentencePiece-style vocabulary: 3 specials, the 256 byte tokens (so any text tokenizes), a few
 * pieces. The specials are ChatML's, so the ChatML template tokenizes to real control tokens and
 * `<|im_end|>` ends a turn.
 */
function tinyVocab(): Vocab {
  const tokens = ['<unk>', '<|im_start|>', '<|im_end|>'];
  const types = [2, 3, 3];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
    scores.push(0);
  }
  TINY_PIECES.forEach((p, i) => {
    tokens.push(p);
    types.push(1);
    scores.push(-(i + 1)); // earlier pieces merge first
  });
  return { model: 'llama', tokens, types, scores, bos: 1, eos: 2, unk: 0 };
}

/** GPT-2 BPE vocabulary and merges from a Hugging Face tokenizer.json (SmolLM2's). */
export async function gpt2VocabFromTokenizerJson(file: string): Promise<Vocab> {
  let json: {
    model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new CosmoError(`cannot read tokenizer ${file}: ${errorMessage(err)}`);
  }
  const vocabMap = json.model?.vocab;
  if (json.model?.type !== 'BPE' || !vocabMap || !Array.isArray(json.model.merges)) {
    throw new CosmoError(`${file}: not a BPE tokenizer.json (needs model.type "BPE", model.vocab and model.merges)`);
  }
  const tokens: string[] = [];
  for (const [tok, id] of Object.entries(vocabMap)) tokens[id] = tok;
  const special = new Set<number>();
  for (const t of json.added_tokens ?? []) {
    tokens[t.id] = t.content;
    if (t.special) special.add(t.id);
  }
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === undefined) throw new CosmoError(`${file}: vocabulary has no token with id ${i}`);
  }
  const idOf = (s: string) => tokens.indexOf(s);
  const eos = Math.max(idOf('<|im_end|>'), 0);
  const bos = Math.max(idOf('<|im_start|>'), 0);
  const endoftext = Math.max(idOf('<|endoftext|>'), 0);
  return {
    model: 'gpt2',
    tokens,
    types: tokens.map((_, i) => (special.has(i) ? 3 : 1)),
    merges: json.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' '))),
    bos,
    eos,
    unk: endoftext,
    pad: endoftext,
  };
}

// ---------------------------------------------------------------------------------------------
// Metadata and tensor infos

const T = { U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;
type MetaValue =
  | { t: 'u32' | 'i32' | 'f32'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'str'; v: string }
  | { t: 'arr'; of: 'str'; v: string[] }
  | { t: 'arr'; of: 'f32' | 'i32'; v: number[] };

const u32 = (v: number): MetaValue => ({ t: 'u32', v });
const f32 = (v: number): MetaValue => ({ t: 'f32', v });
const str = (v: string): MetaValue => ({ t: 'str', v });

function metadata(preset: GgufPreset, s: Shape, vocab: Vocab): [string, MetaValue][] {
  const m: [string, MetaValue][] = [
    ['general.architecture', str('llama')],
    ['general.name', str(`cosmo-random-${preset}`)],
    ['general.description', str('Random weights written by cosmo for tests and benchmarks; its text is noise.')],
    ['general.alignment', u32(32)],
    ['llama.context_length', u32(s.contextLength)],
    ['llama.embedding_length', u32(s.embd)],
    ['llama.block_count', u32(s.layers)],
    ['llama.feed_forward_length', u32(s.ff)],
    ['llama.attention.head_count', u32(s.heads)],
    ['llama.attention.head_count_kv', u32(s.kvHeads)],
    ['llama.attention.layer_norm_rms_epsilon', f32(1e-5)],
    ['llama.rope.dimension_count', u32(s.embd / s.heads)],
    ['llama.rope.freq_base', f32(s.ropeBase)],
    ['llama.vocab_size', u32(vocab.tokens.length)],
    ['tokenizer.ggml.model', str(vocab.model)],
  ];
  if (vocab.model === 'gpt2') m.push(['tokenizer.ggml.pre', str('smollm')]);
  m.push(['tokenizer.ggml.tokens', { t: 'arr', of: 'str', v: vocab.tokens }]);
  if (vocab.scores) m.push(['tokenizer.ggml.scores', { t: 'arr', of: 'f32', v: vocab.scores }]);
  m.push(['tokenizer.ggml.token_type', { t: 'arr', of: 'i32', v: vocab.types }]);
  if (vocab.merges) m.push(['tokenizer.ggml.merges', { t: 'arr', of: 'str', v: vocab.merges }]);
  m.push(
    ['tokenizer.ggml.bos_token_id', u32(vocab.bos)],
    ['tokenizer.ggml.eos_token_id', u32(vocab.eos)],
    ['tokenizer.ggml.unknown_token_id', u32(vocab.unk)],
  );
  if (vocab.pad !== undefined) m.push(['tokenizer.ggml.padding_token_id', u32(vocab.pad)]);
  m.push(
    ['tokenizer.ggml.add_bos_token', { t: 'bool', v: false }],
    ['tokenizer.ggml.add_eos_token', { t: 'bool', v: false }],
    ['tokenizer.chat_template', str(CHATML_TEMPLATE)],
  );
  return m;
}

const GGML_F32 = 0;
const GGML_Q8_0 = 8;
const ALIGN = 32;

interface TensorInfo {
  name: string;
  dims: number[]; // ne[0] (row length) first
  type: number;
  bytes: number;
  offset: number; // relative to the data section
  kind: 'norm' | 'matrix' | 'embedding';
}

function tensorList(s: Shape, vocabSize: number, wt: WeightType): TensorInfo[] {
  const headDim = s.embd / s.heads;
  const kv = headDim * s.kvHeads;
  const list: Omit<TensorInfo, 'bytes' | 'offset' | 'type'>[] = [
    { name: 'token_embd.weight', dims: [s.embd, vocabSize], kind: 'embedding' },
    { name: 'output_norm.weight', dims: [s.embd], kind: 'norm' },
  ];
  for (let l = 0; l < s.layers; l++) {
    const b = `blk.${l}.`;
    list.push(
      { name: b + 'attn_norm.weight', dims: [s.embd], kind: 'norm' },
      { name: b + 'attn_q.weight', dims: [s.embd, s.embd], kind: 'matrix' },
      { name: b + 'attn_k.weight', dims: [s.embd, kv], kind: 'matrix' },
      { name: b + 'attn_v.weight', dims: [s.embd, kv], kind: 'matrix' },
      { name: b + 'attn_output.weight', dims: [s.embd, s.embd], kind: 'matrix' },
      { name: b + 'ffn_norm.weight', dims: [s.embd], kind: 'norm' },
      { name: b + 'ffn_gate.weight', dims: [s.embd, s.ff], kind: 'matrix' },
      { name: b + 'ffn_up.weight', dims: [s.embd, s.ff], kind: 'matrix' },
      { name: b + 'ffn_down.weight', dims: [s.ff, s.embd], kind: 'matrix' },
    );
  }
  let offset = 0;
  return list.map((t) => {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const q8 = wt === 'q8_0' && t.kind !== 'norm';
    if (q8 && t.dims[0]! % 32 !== 0) throw new Error(`${t.name}: row length ${t.dims[0]} is not a multiple of 32 (Q8_0)`);
    const bytes = q8 ? (n / 32) * 34 : n * 4;
    const info: TensorInfo = { ...t, type: q8 ? GGML_Q8_0 : GGML_F32, bytes, offset };
    offset = alignUp(offset + bytes, ALIGN);
    return info;
  });
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private ensure(n: number) {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number) {
    this.ensure(4);
    this.length = this.buf.writeUInt32LE(v, this.length);
  }
  i32(v: number) {
    this.ensure(4);
    this.length = this.buf.writeInt32LE(v, this.length);
  }
  u64(v: number) {
    this.ensure(8);
    this.length = this.buf.writeBigUInt64LE(BigInt(v), this.length);
  }
  f32(v: number) {
    this.ensure(4);
    this.length = this.buf.writeFloatLE(v, this.length);
  }
  u8(v: number) {
    this.ensure(1);
    this.length = this.buf.writeUInt8(v, this.length);
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  pad(align: number) {
    const n = alignUp(this.length, align) - this.length;
    this.ensure(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function encodeHeader(meta: [string, MetaValue][], tensors: TensorInfo[]): { header: Buffer; dataBytes: number } {
  const w = new ByteWriter();
  w.u32(0x46554747); // "GGUF"
  w.u32(3);
  w.u64(tensors.length);
  w.u64(meta.length);
  for (const [key, val] of meta) {
    w.str(key);
    switch (val.t) {
      case 'u32':
        w.u32(T.U32);
        w.u32(val.v);
        break;
      case 'i32':
        w.u32(T.I32);
        w.i32(val.v);
        break;
      case 'f32':
        w.u32(T.F32);
        w.f32(val.v);
        break;
      case 'bool':
        w.u32(T.BOOL);
        w.u8(val.v ? 1 : 0);
        break;
      case 'str':
        w.u32(T.STRING);
        w.str(val.v);
        break;
      case 'arr':
        w.u32(T.ARRAY);
        if (val.of === 'str') {
          w.u32(T.STRING);
          w.u64(val.v.length);
          for (const s of val.v) w.str(s);
        } else {
          w.u32(val.of === 'f32' ? T.F32 : T.I32);
          w.u64(val.v.length);
          for (const x of val.v) {
            if (val.of === 'f32') w.f32(x);
            else w.i32(x);
          }
        }
        break;
    }
  }
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(t.offset);
  }
  w.pad(ALIGN);
  const last = tensors[tensors.length - 1]!;
  return { header: w.bytes(), dataBytes: last.offset + last.bytes };
}

// ---------------------------------------------------------------------------------------------
// Random weights

/** xorshift32: fast and deterministic; statistical quality is irrelevant for noise weights. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0) || 0x12345678;
  }
  fill(words: Uint32Array) {
    let x = this.s;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    this.s = x >>> 0;
  }
}

/** Weight standard deviation: small enough that 30 random layers keep activations finite. */
const STD = 0.02;
const CHUNK_BYTES = 4 << 20;

function* tensorChunks(t: TensorInfo, rng: Rng, vocab: Vocab): Generator<Uint8Array> {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.kind === 'norm') {
    yield new Uint8Array(new Float32Array(n).fill(1).buffer);
    return;
  }
  // The embedding is tied to the output layer: a zero row gives the end-of-turn token a logit of 0,
  // below the largest random logit, so greedy decoding runs to max_tokens (tests rely on it), while
  // sampling still ends a turn now and then.
  const rowLen = t.dims[0]!;
  const zeroRow = t.kind === 'embedding' ? vocab.eos : -1;
  if (t.type === GGML_F32) {
    const words = new Uint32Array(n);
    rng.fill(words);
    const out = new Float32Array(n);
    // Uniform on [-a, a] has std a/sqrt(3).
    const a = STD * Math.sqrt(3);
    for (let i = 0; i < n; i++) out[i] = (words[i]! / 0xffffffff) * 2 * a - a;
    if (zeroRow >= 0) out.fill(0, zeroRow * rowLen, (zeroRow + 1) * rowLen);
    yield new Uint8Array(out.buffer);
    return;
  }
  // Q8_0: per 32 weights an f16 scale then 32 int8. Uniform int8 has std ~73.9.
  const blocks = n / 32;
  const blocksPerRow = rowLen / 32;
  const scale = f16(STD / 73.9);
  const perChunk = Math.floor(CHUNK_BYTES / 68) * 2; // even, so the chunk is a whole number of u32 words
  for (let b0 = 0; b0 < blocks; b0 += perChunk) {
    const nb = Math.min(perChunk, blocks - b0);
    const bytes = new Uint8Array(alignUp(nb * 34, 4));
    rng.fill(new Uint32Array(bytes.buffer));
    for (let b = 0; b < nb; b++) {
      const zero = Math.floor((b0 + b) / blocksPerRow) === zeroRow;
      bytes[b * 34] = zero ? 0 : scale & 0xff;
      bytes[b * 34 + 1] = zero ? 0 : scale >> 8;
    }
    yield bytes.subarray(0, nb * 34);
  }
}

/** IEEE half-precision bits of a normal, positive number. */
function f16(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Uint32Array(f.buffer)[0]!;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  const mant = (bits >>> 13) & 0x3ff;
  if (exp <= 0 || exp >= 31) throw new Error(`f16: ${x} out of the normal range`);
  return (exp << 10) | mant;
}
