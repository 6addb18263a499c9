/**
 * A model's own tokenizer, to count and to write training tokens: a Hugging Face `tokenizer.json`
 * (read by `@huggingface/tokenizers`), or a GGUF's vocabulary through node-llama-cpp when no
 * tokenizer.json lies next to the model.
 *
 * Byte-level BPE tokenizers (GPT-2's family: SmolLM, Llama 3, Qwen, …) take a fast path: the
 * library's own pre-tokenizers split the text, and each word's ids are kept in a cache, so that a
 * word is run through BPE once per process instead of once per occurrence (the library's 10k-entry
 * LRU misses on most of a corpus's long tail, and it maps every word to bytes again). The ids are
 * the library's: a test compares both on real text.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CosmoError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { resolveModelPath } from './model-source.js';

export interface TextTokenizer {
  /** What it is, for metadata files (a file name, never a full path). */
  readonly name: string;
  /** Ids run from 0 to vocabSize - 1: decides the width of a stored token. */
  readonly vocabSize: number;
  /** Token ids of a text, with no special tokens added. */
  encode(text: string): number[];
  /** The text of token ids: decode(encode(t)) === t for byte-level tokenizers. */
  decode(ids: ArrayLike<number>): string;
  /** The id of a token written as text (`<|endoftext|>`), or undefined when the vocabulary lacks it. */
  tokenId(token: string): number | undefined;
  /** The end-of-text token the model was trained with, when the tokenizer says so. */
  readonly eos: number | undefined;
}

/** End-of-document tokens by common name, tried in this order (a configured eos_token after the first two). */
const EOS_NAMES = ['<|endoftext|>', '<|end_of_text|>', '</s>', '<eos>', '<|im_end|>'];

interface TokenizerJson {
  added_tokens?: { id: number; content: string }[];
  normalizer?: unknown;
  pre_tokenizer?: { type?: string; pretokenizers?: { type?: string }[] } | null;
  model?: { type?: string; byte_fallback?: boolean };
}

/** The parts of the library's objects the fast path uses (public, typed fields of its classes). */
interface PreStep {
  pre_tokenize(text: string | string[]): string[];
}
interface ByteLevelStep {
  add_prefix_space: boolean;
  use_regex: boolean;
  pattern: RegExp;
  byte_encoder: Record<number, string>;
}
interface BpeModel {
  ignore_merges: boolean;
  bpe(token: string): string[];
}

/** Words are cached up to this length (longer ones are rare, and each would be its own entry). */
const MAX_CACHED_WORD = 64;
/** Entries before the word cache starts afresh: a bound on memory (~100 B an entry). */
const CACHE_ENTRIES = 1 << 20;

class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly eos: number | undefined;
  private readonly lib: Tokenizer;
  private readonly vocab: Map<string, number>;
  /** Set when the fast path applies: the pre-tokenizers before the byte-level step, that step, and the model. */
  private readonly fast?: { before: PreStep[]; byteLevel: ByteLevelStep; bpe: BpeModel; byteToChar: string[]; charToByte: Map<string, number> };
  private readonly added: RegExp | undefined;
  private readonly addedById = new Map<number, string>();
  private readonly idToToken: string[] = [];
  private readonly cache = new Map<string, number[]>();
  private readonly encoder = new TextEncoder();

  constructor(
    readonly name: string,
    json: TokenizerJson,
    config: { eos_token?: unknown },
  ) {
    this.lib = new Tokenizer(json, {});
    this.vocab = this.lib.get_vocab(true);
    let top = 0;
    for (const [token, id] of this.vocab) {
      this.idToToken[id] = token;
      top = Math.max(top, id);
    }
    this.vocabSize = top + 1;
    for (const t of json.added_tokens ?? []) this.addedById.set(t.id, t.content);
    // A text that contains an added token (`<|im_start|>` written out) goes the library's way, which splits them off.
    const contents = [...this.addedById.values()].filter(Boolean).map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.added = contents.length ? new RegExp(contents.join('|')) : undefined;
    const configured = typeof config.eos_token === 'string' ? config.eos_token : (config.eos_token as { content?: string } | undefined)?.content;
    this.eos = [...EOS_NAMES.slice(0, 2), configured, ...EOS_NAMES.slice(2)].map((t) => (t === undefined ? undefined : this.tokenId(t))).find((id) => id !== undefined);

    // The fast path, for what the JSON says is byte-level BPE: the library's pre-tokenizer is then
    // ByteLevel, or a Sequence ending with it, whose steps match the JSON's one for one.
    const pre = json.pre_tokenizer;
    const types = pre?.type === 'Sequence' ? (pre.pretokenizers ?? []).map((p) => p.type) : [pre?.type];
    if (json.model?.type === 'BPE' && !json.model.byte_fallback && !json.normalizer && types.at(-1) === 'ByteLevel') {
      const lib = this.lib.pre_tokenizer as unknown as { tokenizers?: unknown[] };
      const steps = (pre?.type === 'Sequence' ? lib.tokenizers! : [lib]) as unknown[];
      const byteLevel = steps.at(-1) as ByteLevelStep;
      const byteToChar: string[] = [];
      for (let b = 0; b < 256; b++) byteToChar[b] = byteLevel.byte_encoder[b]!;
      this.fast = { before: steps.slice(0, -1) as PreStep[], byteLevel, bpe: this.lib.model as unknown as BpeModel, byteToChar, charToByte: new Map(byteToChar.map((c, b) => [c, b])) };
    }
  }

  tokenId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  encode(text: string): number[] {
    const fast = this.fast;
    if (!fast || (this.added && this.added.test(text))) return this.lib.encode(text, { add_special_tokens: false }).ids;
    const out: number[] = [];
    let pieces: string[] = [text];
    for (const step of fast.before) pieces = step.pre_tokenize(pieces);
    const { byteLevel } = fast;
    for (let piece of pieces) {
      if (byteLevel.add_prefix_space && !piece.startsWith(' ')) piece = ` ${piece}`;
      const words = byteLevel.use_regex ? (piece.match(byteLevel.pattern) ?? []) : [piece];
      for (const word of words) {
        let ids = this.cache.get(word);
        if (ids === undefined) {
          ids = this.word(word);
          if (word.length <= MAX_CACHED_WORD) {
            if (this.cache.size >= CACHE_ENTRIES) this.cache.clear();
            this.cache.set(word, ids);
          }
        }
        for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
      }
    }
    return out;
  }

  /** One word through byte mapping and BPE, as the library does it. */
  private word(word: string): number[] {
    const { bpe, byteToChar } = this.fast!;
    let mapped = '';
    for (const b of this.encoder.encode(word)) mapped += byteToChar[b];
    const whole = bpe.ignore_merges ? this.vocab.get(mapped) : undefined;
    if (whole !== undefined) return [whole];
    return bpe.bpe(mapped).map((t) => {
      const id = this.vocab.get(t);
      if (id === undefined) throw new CosmoError(`tokenizer ${this.name}: BPE made "${t}", which is not in its vocabulary`);
      return id;
    });
  }

  decode(ids: ArrayLike<number>): string {
    if (!this.fast) return this.lib.decode(Array.from(ids), { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    const { charToByte } = this.fast;
    const bytes: number[] = [];
    let out = '';
    const flush = () => {
      if (bytes.length) out += Buffer.from(bytes).toString('utf8');
      bytes.length = 0;
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const added = this.addedById.get(id);
      if (added !== undefined) {
        flush();
        out += added;
        continue;
      }
      const token = this.idToToken[id];
      if (token === undefined) throw new CosmoError(`tokenizer ${this.name}: no token has id ${id}`);
      for (const ch of token) bytes.push(charToByte.get(ch) ?? 0);
    }
    flush();
    return out;
  }
}

type LlamaModel = import('node-llama-cpp').LlamaModel;
type Token = import('node-llama-cpp').Token;

/** A GGUF's own vocabulary, through llama.cpp (a vocabulary-only load: no weights are read). */
class GgufTokenizer implements TextTokenizer {
  constructor(
    readonly name: string,
    private readonly model: LlamaModel,
    readonly vocabSize: number,
  ) {}

  get eos(): number | undefined {
    return this.model.tokens.eos ?? undefined;
  }

  encode(text: string): number[] {
    return this.model.tokenize(text, false) as number[];
  }

  decode(ids: ArrayLike<number>): string {
    return this.model.detokenize(Array.from(ids) as Token[], false);
  }

  tokenId(token: string): number | undefined {
    const ids = this.model.tokenize(token, true);
    return ids.length === 1 ? (ids[0] as number) : undefined;
  }
}

/** Read a tokenizer.json (with the tokenizer_config.json beside it, when there is one). */
export function tokenizerFromJson(file: string): TextTokenizer {
  let json: TokenizerJson;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as TokenizerJson;
  } catch (err) {
    throw new CosmoError(`cannot read tokenizer ${file}: ${errorMessage(err)}`);
  }
  if (!json.model?.type) throw new CosmoError(`${file} is not a Hugging Face tokenizer.json (it has no model.type)`);
  const configFile = join(dirname(file), 'tokenizer_config.json');
  const config = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as { eos_token?: unknown }) : {};
  try {
    return new HfTokenizer(basename(file), json, config);
  } catch (err) {
    throw new CosmoError(`cannot load tokenizer ${file}: ${errorMessage(err)}`);
  }
}

/**
 * The tokenizer of `spec`: a tokenizer.json, a folder holding one, or a GGUF model (the
 * tokenizer.json next to it when there is one, else its own vocabulary through llama.cpp).
 */
export async function loadTokenizer(spec: string, log?: Logger): Promise<TextTokenizer> {
  // An hf: model is the one generate downloads (and may have already).
  if (spec.startsWith('hf:')) spec = await resolveModelPath(spec, { log });
  if (!existsSync(spec)) throw new CosmoError(`tokenizer ${spec} does not exist (give a tokenizer.json, a folder with one, or a .gguf model)`);
  if (statSync(spec).isDirectory()) {
    const file = join(spec, 'tokenizer.json');
    if (!existsSync(file)) throw new CosmoError(`${spec} holds no tokenizer.json`);
    return tokenizerFromJson(file);
  }
  if (!spec.endsWith('.gguf')) return tokenizerFromJson(spec);
  const beside = join(dirname(spec), 'tokenizer.json');
  if (existsSync(beside)) return tokenizerFromJson(beside);
  log?.info('no tokenizer.json next to the model: using its GGUF vocabulary through llama.cpp', { model: basename(spec) });
  const { loadGgufModel } = await import('./embedded.js');
  const { model } = await loadGgufModel(spec, { gpu: false, vocabOnly: true, log });
  const tokens = (model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens;
  return new GgufTokenizer(basename(spec), model, tokens?.length ?? 0);
}
