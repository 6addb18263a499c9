import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Command } from 'commander';
import { getLlama, LlamaCompletion, readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, describe, expect, it } from 'vitest';
import { registerDebug } from '../../src/cli/debug.js';
import { CHATML_TEMPLATE, writeTestModel } from '../../src/engines/gguf.js';
import { CosmoError } from '../../src/util/errors.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const dir = mkdtempSync(join(tmpdir(), 'cosmo-gguf-'));
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const TOKENIZER = sharedPath('tokenizers', 'smollm2-135m-tokenizer.json');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GGUF writer', () => {
  it('writes the tiny preset with the metadata and tensors llama.cpp reads', async () => {
    const info = await writeTestModel(join(dir, 'tiny.gguf'), { preset: 'tiny', seed: 5 });
    expect(statSync(info.path).size).toBe(info.bytes);
    const gguf = await readGgufFileInfo(info.path, { logWarnings: false });
    expect(gguf.version).toBe(3);
    const md = gguf.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(md.general!.architecture).toBe('llama');
    const llama = md.llama as Record<string, unknown>;
    expect(llama.embedding_length).toBe(64);
    expect(llama.block_count).toBe(2);
    expect(llama.feed_forward_length).toBe(128);
    const tok = md.tokenizer as { ggml: Record<string, unknown>; chat_template: string };
    expect(tok.ggml.model).toBe('llama');
    expect((tok.ggml.tokens as string[]).length).toBe(info.vocabSize);
    expect((tok.ggml.tokens as string[]).slice(0, 3)).toEqual(['<unk>', '<|im_start|>', '<|im_end|>']);
    expect((tok.ggml.tokens as string[])[3 + 0x41]).toBe('<0x41>');
    expect(tok.chat_template).toBe(CHATML_TEMPLATE);
    expect(gguf.tensorInfo?.length).toBe(info.tensors);
    const q = gguf.tensorInfo!.find((t) => t.name === 'blk.1.attn_k.weight')!;
    expect(q.dimensions.map(Number)).toEqual([64, 64]);
    // Parameters: embedding + output norm + per layer (4 attention + 3 ffn matrices + 2 norms).
    expect(info.params).toBe(info.vocabSize * 64 + 64 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64));
  });

  it('is deterministic: the same seed gives the same bytes, another seed other bytes', async () => {
    const a = await writeTestModel(join(dir, 'a.gguf'), { seed: 1 });
    const b = await writeTestModel(join(dir, 'b.gguf'), { seed: 1 });
    const c = await writeTestModel(join(dir, 'c.gguf'), { seed: 2 });
    expect(sha(a.path)).toBe(sha(b.path));
    expect(sha(a.path)).not.toBe(sha(c.path));
    expect(c.bytes).toBe(a.bytes);
  });

  it('writes Q8_0 weights that llama.cpp loads and runs', async () => {
    const info = await writeTestModel(join(dir, 'tiny-q8.gguf'), { preset: 'tiny', type: 'q8_0', seed: 3 });
    const f32 = await writeTestModel(join(dir, 'tiny-f32.gguf'), { preset: 'tiny', type: 'f32', seed: 3 });
    // 34 bytes per 32 weights instead of 128.
    expect(info.bytes).toBeLessThan(f32.bytes / 2.5);
    const gguf = await readGgufFileInfo(info.path, { logWarnings: false });
    expect(gguf.tensorInfo!.find((t) => t.name === 'blk.0.ffn_down.weight')!.ggmlType).toBe(8);
    expect(gguf.tensorInfo!.find((t) => t.name === 'blk.0.ffn_norm.weight')!.ggmlType).toBe(0);
    const llama = await getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: info.path });
    try {
      const ctx = await model.createContext({ contextSize: 256, threads: 1 });
      const completion = new LlamaCompletion({ contextSequence: ctx.getSequence() });
      const res = await completion.generateCompletionWithMeta('Hello', { maxTokens: 8 });
      expect(res.metadata.stopReason).toBe('maxTokens');
      expect(res.response.length).toBeGreaterThan(0);
    } finally {
      await model.dispose();
    }
  });

  it.runIf(hasSharedData)('writes the SmolLM2-135M shape whose tokenizer matches the real one', async () => {
    const info = await writeTestModel(join(dir, 'smol.gguf'), { preset: 'smollm2-135m', tokenizer: TOKENIZER, seed: 0 });
    expect(info.vocabSize).toBe(49152);
    expect(info.type).toBe('q8_0');
    expect(info.params).toBeGreaterThan(130e6);
    expect(info.params).toBeLessThan(140e6);
    expect(info.bytes).toBeGreaterThan(140e6);
    const gguf = await readGgufFileInfo(info.path, { logWarnings: false, ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.merges'] });
    const md = gguf.metadata as unknown as Record<string, Record<string, unknown>>;
    const llamaMd = md.llama as Record<string, unknown>;
    expect([llamaMd.embedding_length, llamaMd.block_count, llamaMd.feed_forward_length]).toEqual([576, 30, 1536]);
    expect((llamaMd.attention as Record<string, unknown>).head_count_kv).toBe(3);
    const tok = md.tokenizer as { ggml: Record<string, unknown> };
    expect(tok.ggml.model).toBe('gpt2');
    expect(tok.ggml.pre).toBe('smollm');

    // llama.cpp tokenizes exactly as the Hugging Face tokenizer does.
    const json = JSON.parse(readFileSync(TOKENIZER, 'utf8')) as object;
    const hf = new Tokenizer(json, {});
    const llama = await getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: info.path, vocabOnly: true });
    try {
      for (const text of [
        'The mitochondria is the powerhouse of the cell.',
        "  Let's count: 12345 apples, 3.14 pies!\nNew line\ttab",
        'Ünïcödé façade – naïve café 東京 🚀',
      ]) {
        expect([...model.tokenize(text)]).toEqual(hf.encode(text, { add_special_tokens: false }).ids);
      }
      expect([...model.tokenize('<|im_start|>user', true)]).toEqual([1, ...hf.encode('user', { add_special_tokens: false }).ids]);
      expect(model.tokens.eos).toBe(2); // <|im_end|> ends a turn
    } finally {
      await model.dispose();
    }
  });

  it('names the problem when the tokenizer is missing or wrong', async () => {
    await expect(writeTestModel(join(dir, 'x.gguf'), { preset: 'smollm2-135m' })).rejects.toThrow(/needs a tokenizer\.json/);
    const bad = join(dir, 'bad-tokenizer.json');
    writeFileSync(bad, '{"model": {"type": "WordPiece"}}');
    const err = await writeTestModel(join(dir, 'x.gguf'), { preset: 'smollm2-135m', tokenizer: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CosmoError);
    expect((err as Error).message).toContain(bad);
    await expect(writeTestModel(join(dir, 'x.gguf'), { preset: 'huge' as never })).rejects.toThrow(/unknown model preset "huge"/);
  });
});

describe('cosmo debug tiny-model', () => {
  it('writes the model and prints what it wrote', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    const path = join(dir, 'cli.gguf');
    try {
      const program = new Command().exitOverride();
      registerDebug(program);
      await program.parseAsync(['node', 'cosmo', 'debug', 'tiny-model', path, '--seed', '9']);
    } finally {
      process.stdout.write = write;
    }
    const again = await writeTestModel(join(dir, 'api.gguf'), { seed: 9 });
    expect(sha(path)).toBe(sha(again.path));
    expect(out.join('')).toContain(`wrote ${path}: tiny, 0.10M params, 20 tensors (f32), vocabulary ${again.vocabSize}`);
  });
});
