import type { LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp';
import { loadGgufModel } from '../engines/embedded.js';
import type { Logger } from '../util/log.js';
import { normalizeRows } from './linalg.js';
import type { Embedder } from './types.js';

/** A GGUF embedding model (e.g. a sentence-transformer converted to GGUF) run by llama.cpp in this process. */
export class GgufEmbedder implements Embedder {
  readonly name: string;
  readonly dim: number;

  private constructor(
    private readonly model: LlamaModel,
    private readonly context: LlamaEmbeddingContext,
    private readonly contextSize: number,
    name: string,
  ) {
    this.dim = model.embeddingVectorSize;
    this.name = `gguf:${name}`;
  }

  static async open(model: string, opts: { threads: number; contextSize: number; log?: Logger }): Promise<GgufEmbedder> {
    const loaded = await loadGgufModel(model, { log: opts.log });
    const context = await loaded.model.createEmbeddingContext({ threads: opts.threads, contextSize: opts.contextSize });
    return new GgufEmbedder(loaded.model, context, opts.contextSize, model.split('/').pop()!);
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array> {
    const out = new Float32Array(texts.length * this.dim);
    for (let i = 0; i < texts.length; i++) {
      signal?.throwIfAborted();
      // Cut to what the context holds: an embedding of the text's start rather than an error.
      const tokens = this.model.tokenize(texts[i]!).slice(0, this.contextSize - 2);
      const e = await this.context.getEmbeddingFor(tokens);
      out.set(e.vector.slice(0, this.dim), i * this.dim);
    }
    normalizeRows(out, this.dim);
    return out;
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
