import { resolve } from 'node:path';
import type { Command } from 'commander';
import { GGUF_PRESETS, writeTestModel, type GgufPreset, type WeightType } from '../engines/gguf.js';
import { CosmoError } from '../util/errors.js';
import { createLogger } from '../util/log.js';

/** `cosmo debug ...`: tools to try the pipeline without real weights. */
export function registerDebug(program: Command): void {
  const debug = program.command('debug').description('tools for trying cosmo out without a real model');

  debug
    .command('tiny-model')
    .description('write a GGUF model with random weights (its text is noise; loading, batching and speed are real)')
    .argument('<path>', 'where to write the .gguf file')
    .option('--preset <name>', `model shape: ${GGUF_PRESETS.join(' | ')}`, 'tiny')
    .option('--tokenizer <file>', 'tokenizer.json whose vocabulary the smollm2-135m preset uses')
    .option('--seed <n>', 'random seed (same seed, same file)', '0')
    .option('--type <type>', 'weight type: f32 | q8_0 (default: f32 for tiny, q8_0 otherwise)')
    .action(async (path: string, opts: { preset: string; tokenizer?: string; seed: string; type?: string }) => {
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed)) throw new CosmoError(`--seed must be an integer, got "${opts.seed}"`);
      if (opts.type !== undefined && opts.type !== 'f32' && opts.type !== 'q8_0') {
        throw new CosmoError(`--type must be f32 or q8_0, got "${opts.type}"`);
      }
      const info = await writeTestModel(resolve(path), {
        preset: opts.preset as GgufPreset,
        tokenizer: opts.tokenizer,
        seed,
        type: opts.type as WeightType | undefined,
      });
      process.stdout.write(
        `wrote ${info.path}: ${info.preset}, ${(info.params / 1e6).toFixed(2)}M params, ${info.tensors} tensors (${info.type}), ` +
          `vocabulary ${info.vocabSize}, ${(info.bytes / 1e6).toFixed(1)} MB\n`,
      );
    });

  debug
    .command('complete')
    .description('load a model in the embedded engine and answer one chat message')
    .argument('<model>', 'a .gguf path or hf:owner/repo/file.gguf')
    .argument('<message...>', 'the user message')
    .option('--max-tokens <n>', 'tokens to generate at most', '64')
    .option('--temperature <t>', 'sampling temperature', '0.6')
    .option('--threads <n>', 'CPU threads', '2')
    .action(async (model: string, message: string[], opts: { maxTokens: string; temperature: string; threads: string }) => {
      const { createEmbeddedEngine } = await import('../engines/embedded.js');
      const engine = await createEmbeddedEngine(
        { type: 'embedded', model, threads: Number(opts.threads) || 2, sequences: 1, context_size: 4096 },
        { log: createLogger() },
      );
      try {
        const started = Date.now();
        const res = await engine.complete({
          messages: [{ role: 'user', content: message.join(' ') }],
          params: { temperature: Number(opts.temperature), top_p: 0.95, max_tokens: Number(opts.maxTokens) || 64 },
        });
        const secs = (Date.now() - started) / 1000;
        process.stdout.write(`${res.text}\n`);
        process.stderr.write(
          `-- ${res.finish_reason}, ${res.usage.prompt_tokens} prompt + ${res.usage.completion_tokens} completion tokens, ` +
            `${(res.usage.completion_tokens / secs).toFixed(1)} tok/s\n`,
        );
      } finally {
        await engine.close();
      }
    });
}
