/**
 * The embedded engine: llama.cpp in-process through node-llama-cpp.
 *
 * One model and `contexts` contexts of `sequences` slots each: requests running at the same time on
 * one context are decoded together in the same batches (continuous batching), and the contexts
 * decode side by side, each on its own threads. Each slot keeps its last prompt in the KV cache, so
 * a request that shares a prefix with the previous one on that slot only evaluates the new tokens.
 */
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Template } from '@huggingface/jinja';
import type { Llama, LlamaCompletion, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel, Token } from 'node-llama-cpp';
import type { EmbeddedEngineConfig } from './config.js';
import { onAbort } from '../util/abort.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { calibrated, calibrationKey, type Calibration } from './calibrate.js';
import { CHATML_TEMPLATE } from './gguf.js';
import { resolveModelPath, type DownloadProgress } from './model-source.js';
import { EngineError, type ChatMessage, type Completion, type CompletionRequest, type Engine } from './types.js';

export interface EmbeddedEngine extends Engine {
  /** Tokens of `text` in this model's vocabulary (special-token text is not parsed). */
  countTokens(text: string): number;
  /** The chat template applied to `messages`, ready to generate the assistant's turn. */
  formatPrompt(messages: ChatMessage[]): string;
  /** Tokens each sequence holds (prompt + answer). */
  readonly contextSize: number;
  /** The model as recorded on samples: the hf: URI, or the file name of a local model. */
  readonly model: string;
}

export interface EmbeddedEngineOptions {
  log?: Logger;
  /** Where hf: models are cached (see model-source.ts). */
  cacheDir?: string;
  /** Download progress of an hf: model. */
  onProgress?: (p: DownloadProgress) => void;
  progress?: 'bar' | 'lines' | 'none';
  /** Called as tokens are generated, with the slot (sequence) they belong to: live tokens/s. */
  onTokens?: (e: { slot: number; tokens: number }) => void;
}

// Loaded when an engine is made, not with the module: it costs half a second, which every worker
// process of every stage would pay (the registry imports all stages).
const llamaCpp = () => import('node-llama-cpp');

// One llama.cpp binding per process and GPU choice: loading it costs seconds, and it is shared by all models.
const llamas = new Map<string, Promise<Llama>>();
let llamaLog: Logger = silentLogger;

function sharedLlama(gpu: EmbeddedEngineConfig['gpu']): Promise<Llama> {
  const key = String(gpu ?? 'auto');
  let p = llamas.get(key);
  if (!p) {
    p = llamaCpp().then(({ getLlama, LlamaLogLevel }) =>
      getLlama({
        gpu: gpu ?? 'auto',
        // The thread count is set per context; do not let the binding cap it.
        maxThreads: 0,
        logLevel: LlamaLogLevel.error,
        logger: (_level, message) => llamaLog.warn(`llama.cpp: ${message.trim()}`),
      }),
    );
    p.catch(() => llamas.delete(key));
    llamas.set(key, p);
  }
  return p;
}

/** Fail early, naming the path, on a missing file or one that is not GGUF (llama.cpp's own error says neither). */
async function checkModelFile(path: string): Promise<void> {
  try {
    if (!(await stat(path)).isFile()) throw new CosmoError(`model ${path} is not a file`);
  } catch (err) {
    if (err instanceof CosmoError) throw err;
    throw new CosmoError(`model file not found: ${path} (pass a .gguf file, or hf:owner/repo/file.gguf)`);
  }
  const fh = await open(path, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead < 4 || buffer.toString('latin1') !== 'GGUF') {
      throw new CosmoError(`model ${path} is not a GGUF file (it does not start with the bytes "GGUF")`);
    }
  } finally {
    await fh.close();
  }
}

/** Hands out the context's sequences, one request per sequence at a time. */
class Slots {
  private readonly free: number[];
  private readonly waiters: { resolve: (slot: number) => void; reject: (err: Error) => void }[] = [];
  active = 0;
  peakActive = 0;

  constructor(n: number) {
    this.free = Array.from({ length: n }, (_, i) => i);
  }

  /** A free slot (the one `score` rates highest), or the next one released. */
  acquire(signal?: AbortSignal, score?: (slot: number) => number): Promise<number> {
    if (this.free.length > 0) {
      let best = this.free.length - 1;
      if (score) {
        let bestScore = -Infinity;
        for (let i = 0; i < this.free.length; i++) {
          const sc = score(this.free[i]!);
          if (sc > bestScore) [best, bestScore] = [i, sc];
        }
      }
      return Promise.resolve(this.take(this.free.splice(best, 1)[0]!));
    }
    const aborted = () => new EngineError('request aborted while waiting for a free sequence', 'aborted', { retryable: false });
    if (signal?.aborted) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (s: number) => {
          off();
          resolve(this.take(s));
        },
        reject: (err: Error) => {
          off();
          reject(err);
        },
      };
      // Attempts that start together share a signal (engines/pool.ts): one listener serves them all.
      const off = onAbort(signal, () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(aborted());
      });
      this.waiters.push(waiter);
    });
  }

  /** Whether `slot` is free now. */
  isFree(slot: number): boolean {
    return this.free.includes(slot);
  }

  release(slot: number): void {
    this.active--;
    const next = this.waiters.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot);
  }

  /** Fail every request still waiting for a sequence (the engine is closing). */
  rejectWaiting(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private take(slot: number): number {
    this.active++;
    this.peakActive = Math.max(this.peakActive, this.active);
    return slot;
  }
}

/** Load `cfg.model` (downloading an hf: model first) and start a context with `cfg.sequences` sequences. */
/** A GGUF model loaded with the process's shared llama.cpp binding (an `hf:` model is downloaded first). */
export async function loadGgufModel(
  model: string,
  opts: { gpu?: EmbeddedEngineConfig['gpu']; log?: Logger; cacheDir?: string; progress?: 'bar' | 'lines' | 'none'; onProgress?: (p: DownloadProgress) => void; vocabOnly?: boolean } = {},
): Promise<{ model: LlamaModel; path: string; llama: Llama }> {
  const log = opts.log ?? silentLogger;
  llamaLog = log;
  const path = await resolveModelPath(model, { cacheDir: opts.cacheDir, log, onProgress: opts.onProgress, progress: opts.progress });
  await checkModelFile(path);
  const llama = await sharedLlama(opts.gpu);
  try {
    return { model: await llama.loadModel({ modelPath: path, gpuLayers: llama.gpu === false ? 0 : 'auto', vocabOnly: opts.vocabOnly }), path, llama };
  } catch (err) {
    throw new CosmoError(`cannot load model ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** The config with `auto` threads, sequences and contexts replaced by what calibration chose. */
type ResolvedConfig = Omit<EmbeddedEngineConfig, 'threads' | 'sequences' | 'contexts'> & { threads: number; sequences: number; contexts: number };

/** Tokens each sequence generates while a setting is timed. */
const CALIBRATION_TOKENS = 32;

/** `n` contexts of `model`; none is left open when one cannot be made. */
async function createContexts(model: LlamaModel, n: number, options: Parameters<LlamaModel['createContext']>[0]): Promise<LlamaContext[]> {
  const made: LlamaContext[] = [];
  try {
    for (let c = 0; c < n; c++) made.push(await model.createContext(options));
    return made;
  } catch (err) {
    await Promise.all(made.map((context) => context.dispose()));
    throw err;
  }
}

/** Generated tokens per second of `model` with `contexts` × `threads` × `sequences`, on short contexts of their own. */
async function measureSetting(model: LlamaModel, cfg: EmbeddedEngineConfig, threads: number, sequences: number, contexts: number): Promise<number> {
  const { LlamaCompletion } = await llamaCpp();
  const made = await createContexts(model, contexts, { sequences, contextSize: Math.min(cfg.context_size, 512), threads });
  try {
    const seqs = made.flatMap((context) => Array.from({ length: sequences }, () => context.getSequence()));
    const completions = seqs.map((contextSequence) => new LlamaCompletion({ contextSequence }));
    const prompt = model.tokenize('Write a short textbook section about the water cycle for college students.');
    const options = { temperature: 0.8, repeatPenalty: false as const, disableContextShift: true };
    // The first decode allocates its buffers: not part of the figure.
    await completions[0]!.generateCompletionWithMeta(prompt, { ...options, maxTokens: 4 });
    const before = seqs.map((s) => s.tokenMeter.usedOutputTokens);
    const t0 = performance.now();
    await Promise.all(completions.map((c, i) => c.generateCompletionWithMeta(prompt, { ...options, maxTokens: CALIBRATION_TOKENS, seed: i + 1 })));
    const secs = (performance.now() - t0) / 1000;
    const tokens = seqs.reduce((n, s, i) => n + s.tokenMeter.usedOutputTokens - before[i]!, 0);
    for (const c of completions) c.dispose({ disposeSequence: true });
    return tokens / Math.max(secs, 1e-6);
  } finally {
    await Promise.all(made.map((context) => context.dispose()));
  }
}

export async function createEmbeddedEngine(config: EmbeddedEngineConfig, opts: EmbeddedEngineOptions = {}): Promise<EmbeddedEngine> {
  const log = opts.log ?? silentLogger;
  const { model, path, llama } = await loadGgufModel(config.model, { ...opts, gpu: config.gpu });
  let calibration: Calibration | undefined;
  // Contexts left open follow sequences: chosen with them, or one beside a fixed number.
  const contexts = config.contexts ?? (config.sequences === 'auto' ? 'auto' : 1);
  if (config.threads === 'auto' || config.sequences === 'auto' || contexts === 'auto') {
    const fixed = {
      threads: config.threads === 'auto' ? undefined : config.threads,
      sequences: config.sequences === 'auto' ? undefined : config.sequences,
      contexts: contexts === 'auto' ? undefined : contexts,
    };
    try {
      calibration = await calibrated(calibrationKey(path, String(llama.gpu), fixed), fixed, (t, s, c) => measureSetting(model, config, t, s, c), log);
    } catch (err) {
      await model.dispose();
      throw new CosmoError(`cannot calibrate threads, sequences and contexts for ${path}: ${errorMessage(err)} (set generate.engines[].threads, sequences and contexts)`, { cause: err });
    }
  }
  const cfg: ResolvedConfig = {
    ...config,
    threads: calibration?.threads ?? (config.threads as number),
    sequences: calibration?.sequences ?? (config.sequences as number),
    contexts: calibration?.contexts ?? (contexts as number),
  };
  let made: LlamaContext[];
  try {
    made = await createContexts(model, cfg.contexts, {
      sequences: cfg.sequences,
      contextSize: cfg.context_size,
      threads: cfg.threads,
      ...(cfg.batch_size ? { batchSize: cfg.batch_size } : {}),
    });
  } catch (err) {
    await model.dispose();
    throw new CosmoError(
      `cannot create ${cfg.contexts} context(s) of ${cfg.sequences} x ${cfg.context_size} tokens for ${path}: ${errorMessage(err)} ` +
        '(lower generate.engines[].contexts, sequences or context_size)',
      { cause: err },
    );
  }
  const name = cfg.model.startsWith('hf:') ? cfg.model : basename(path);
  log.info('embedded engine ready', {
    model: name,
    gpu: llama.gpu,
    contexts: cfg.contexts,
    sequences: cfg.sequences,
    context: made[0]!.contextSize,
    threads: cfg.threads,
    batch: made[0]!.batchSize,
  });
  const { LlamaCompletion } = await llamaCpp();
  const completions = (sequences: LlamaContextSequence[]) => sequences.map((contextSequence) => new LlamaCompletion({ contextSequence }));
  return new LlamaEngine(cfg, name, llama, model, made, completions, log, opts.onTokens, calibration);
}

class LlamaEngine implements EmbeddedEngine {
  readonly id: string;
  readonly concurrency: number;
  private readonly slots: Slots;
  private readonly sequences: LlamaContextSequence[];
  private readonly completions: LlamaCompletion[];
  /** Sequences a context has (slots `c * perContext` on are context c's). */
  private readonly perContext: number;
  private readonly template: Template;
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private closed = false;

  constructor(
    cfg: ResolvedConfig,
    readonly model: string,
    private readonly llama: Llama,
    private readonly llamaModel: LlamaModel,
    private readonly contexts: LlamaContext[],
    completionsOf: (sequences: LlamaContextSequence[]) => LlamaCompletion[],
    log: Logger,
    private readonly onTokens?: EmbeddedEngineOptions['onTokens'],
    /** How threads and sequences were chosen, when they were `auto`: reported in the metrics. */
    readonly calibration?: Calibration,
  ) {
    this.id = `embedded:${basename(model)}`;
    this.concurrency = cfg.contexts * cfg.sequences;
    this.slots = new Slots(this.concurrency);
    this.sequences = contexts.flatMap((context) => Array.from({ length: cfg.sequences }, () => context.getSequence()));
    this.perContext = cfg.sequences;
    this.completions = completionsOf(this.sequences);
    const source = llamaModel.fileInfo.metadata?.tokenizer?.chat_template;
    if (typeof source !== 'string') log.warn('the model has no chat template; using ChatML', { model });
    this.template = new Template(typeof source === 'string' ? source : CHATML_TEMPLATE);
  }

  get contextSize(): number {
    return this.contexts[0]!.contextSize;
  }

  /** The largest number of requests that were decoding at once so far. */
  get peakActive(): number {
    return this.slots.peakActive;
  }

  countTokens(text: string): number {
    return this.llamaModel.tokenize(text, false).length;
  }

  formatPrompt(messages: ChatMessage[]): string {
    return this.template.render({
      messages,
      add_generation_prompt: true,
      bos_token: this.llamaModel.tokens.bosString ?? '',
      eos_token: this.llamaModel.tokens.eosString ?? '',
    });
  }

  async complete(req: CompletionRequest): Promise<Completion> {
    if (this.closed) throw new EngineError(`${this.id} is closed`, 'aborted', { retryable: false });
    let tokens: Token[];
    try {
      tokens = this.llamaModel.tokenize(this.formatPrompt(req.messages), true);
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw new EngineError(`${this.id}: cannot apply the chat template: ${errorMessage(err)}`, 'bad_request');
    }
    const promptTokens = tokens.length + (this.llamaModel.tokens.shouldPrependBosToken ? 1 : 0);
    if (promptTokens >= this.contextSize) {
      throw new EngineError(
        `prompt is ${promptTokens} tokens but the context holds ${this.contextSize} tokens per sequence ` +
          `(${this.id}); shorten the prompt or raise context_size`,
        'context_length',
        { retryable: false },
      );
    }
    const grammar = req.jsonSchema ? await this.grammarFor(req.jsonSchema) : undefined;
    // A free sequence of the least busy context (contexts decode side by side; sequences of one
    // context share its threads), and of those the one whose cache already holds the longest start
    // of this prompt (shared instructions, a system prompt): only the rest is evaluated.
    const slot = await this.slots.acquire(req.signal, (s) => commonPrefix(this.sequences[s]!.contextTokens, tokens) - 1e9 * this.busyIn(s));
    const sequence = this.sequences[slot]!;
    // Every sampled token counts, also those a stop sequence or the end-of-turn token hides from the text.
    const outputBefore = sequence.tokenMeter.usedOutputTokens;
    try {
      const { params } = req;
      const res = await this.completions[slot]!.generateCompletionWithMeta(tokens, {
        maxTokens: params.max_tokens,
        temperature: params.temperature,
        topP: params.top_p,
        ...(params.seed !== undefined ? { seed: params.seed } : {}),
        ...(params.stop?.length ? { customStopTriggers: params.stop } : {}),
        ...(grammar ? { grammar } : {}),
        // OpenAI semantics: no hidden repetition penalty, and a full context ends the answer ('length')
        // instead of silently dropping the start of the prompt.
        repeatPenalty: false,
        disableContextShift: true,
        contextShiftSize: 1,
        signal: req.signal,
        onToken: this.onTokens && ((t) => this.onTokens!({ slot, tokens: t.length })),
      });
      return {
        text: res.response,
        finish_reason: res.metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
        usage: { prompt_tokens: promptTokens, completion_tokens: sequence.tokenMeter.usedOutputTokens - outputBefore },
        model: this.model,
      };
    } catch (err) {
      if (req.signal?.aborted) throw new EngineError(`${this.id}: request aborted`, 'aborted', { retryable: false });
      if (this.closed) throw new EngineError(`${this.id} was closed during the request`, 'aborted', { retryable: false });
      throw new EngineError(`${this.id}: ${errorMessage(err)}`, 'unknown', { retryable: false });
    } finally {
      this.slots.release(slot);
    }
  }

  /** Requests decoding on the context of slot `s`. */
  private busyIn(s: number): number {
    const first = s - (s % this.perContext);
    let n = 0;
    for (let i = first; i < first + this.perContext; i++) if (!this.slots.isFree(i)) n++;
    return n;
  }

  private grammarFor(schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let g = this.grammars.get(key);
    if (!g) {
      g = Promise.resolve()
        .then(() => this.llama.createGrammarForJsonSchema(schema as never) as Promise<LlamaGrammar>)
        .catch((err: unknown) => {
        this.grammars.delete(key);
          throw new EngineError(`${this.id}: unsupported JSON schema: ${errorMessage(err)}`, 'bad_request', { retryable: false });
        });
      this.grammars.set(key, g);
    }
    return g;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slots.rejectWaiting(new EngineError(`${this.id} was closed`, 'aborted', { retryable: false }));
    for (const c of this.completions) c.dispose({ disposeSequence: true });
    await Promise.all(this.contexts.map((context) => context.dispose()));
    await this.llamaModel.dispose();
  }
}

function commonPrefix(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
