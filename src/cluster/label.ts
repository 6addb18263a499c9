import { join } from 'node:path';
import { z } from 'zod';
import { readYamlData } from '../config/load.js';
import type { Engine } from '../engines/types.js';
import { seededRandom } from '../embed/linalg.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { shippedDir } from '../util/shipped.js';

/** What the LLM answers for a cluster, constrained by JSON schema (llama.cpp grammar, `response_format`). */
export const LABEL_SCHEMA = {
  type: 'object',
  properties: {
    educational_score: { type: 'integer', minimum: 1, maximum: 10 },
    topic: { type: 'string', minLength: 2, maxLength: 80 },
  },
  required: ['educational_score', 'topic'],
  additionalProperties: false,
} as const;

export interface ClusterLabel {
  topic: string;
  educational_score: number;
}

const answerSchema = z.object({ educational_score: z.number().int().min(1).max(10), topic: z.string().trim().min(2).max(80) });

/** A label from an answer, or why the answer is not one. */
export function parseLabel(text: string): ClusterLabel {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${JSON.stringify(text.slice(0, 120))}`);
  }
  const parsed = answerSchema.safeParse(value);
  if (!parsed.success) throw new Error(`not a label (${parsed.error.issues[0]?.path.join('.') || 'answer'}: ${parsed.error.issues[0]?.message}): ${JSON.stringify(text.slice(0, 120))}`);
  return { topic: parsed.data.topic.replace(/\s+/g, ' '), educational_score: parsed.data.educational_score };
}

const promptSchema = z.strictObject({ version: z.number().int(), system: z.string(), prompt: z.string().includes('{{examples}}') });

/** The labelling prompt: a YAML file of the shape of templates/cluster/label.yaml, or the built-in one. */
export function loadLabelPrompt(file?: string): z.infer<typeof promptSchema> {
  return readYamlData(file ?? join(shippedDir('cluster'), 'label.yaml'), promptSchema, 'the labelling prompt');
}

export interface LabelOptions {
  /** Members shown to the LLM, drawn without replacement. */
  samples: number;
  /** Each member's text is cut to this many characters. */
  maxChars: number;
  /** Tries per cluster: an answer that is not a valid label is asked again (another sampling seed). */
  attempts: number;
  /** Clusters labelled at once. */
  concurrency: number;
  seed: number;
  promptFile?: string;
  signal?: AbortSignal;
}

export type LabelOutcome = ClusterLabel | { error: string };

/** Up to `k` distinct members of a cluster, drawn reproducibly. */
export function sampleMembers<T>(members: readonly T[], k: number, seed: number): T[] {
  const pool = [...members];
  const random = seededRandom(seed);
  const out: T[] = [];
  while (out.length < k && pool.length) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

/**
 * Name each cluster from a sample of its members' texts. A cluster whose answers never parse as a
 * label gets `{error}`: it is reported, never guessed.
 */
export async function labelClusters(
  clusters: { id: number; texts: string[] }[],
  engine: Pick<Engine, 'complete'>,
  o: LabelOptions,
  onLabel?: (id: number, outcome: LabelOutcome, attempts: number) => void,
): Promise<Map<number, LabelOutcome>> {
  const tpl = loadLabelPrompt(o.promptFile);
  const out = new Map<number, LabelOutcome>();
  const one = async (c: { id: number; texts: string[] }) => {
    const examples = sampleMembers(c.texts, o.samples, o.seed + c.id)
      .map((t, i) => `${i + 1}. ${t.replace(/\s+/g, ' ').trim().slice(0, o.maxChars)}`)
      .join('\n');
    const messages = [
      { role: 'system' as const, content: tpl.system.trim() },
      { role: 'user' as const, content: tpl.prompt.replace('{{examples}}', examples).trim() },
    ];
    let last = '';
    for (let attempt = 1; attempt <= o.attempts; attempt++) {
      o.signal?.throwIfAborted();
      try {
        // Another seed per attempt: the same request would get the same (cached) answer.
        const reply = await engine.complete({
          messages,
          params: { temperature: attempt === 1 ? 0 : 0.7, top_p: 0.95, max_tokens: 96, seed: attempt },
          jsonSchema: LABEL_SCHEMA as unknown as Record<string, unknown>,
          signal: o.signal,
        });
        const label = parseLabel(reply.text);
        out.set(c.id, label);
        onLabel?.(c.id, label, attempt);
        return;
      } catch (err) {
        o.signal?.throwIfAborted();
        last = errorMessage(err);
      }
    }
    const failed = { error: `no valid label after ${o.attempts} attempts; last: ${last}` };
    out.set(c.id, failed);
    onLabel?.(c.id, failed, o.attempts);
  };
  const queue = [...clusters];
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(o.concurrency, queue.length)) }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) await one(c);
    }),
  );
  return out;
}

const blocklistSchema = z.strictObject({ version: z.number().int(), patterns: z.array(z.strictObject({ id: z.string(), pattern: z.string() })) });

/** The topic blocklist: a YAML file of the shape of templates/cluster/blocklist.yaml, or the built-in one. */
export function loadBlocklist(file?: string): { id: string; re: RegExp }[] {
  const path = file ?? join(shippedDir('cluster'), 'blocklist.yaml');
  return readYamlData(path, blocklistSchema, 'the topic blocklist').patterns.map((p) => {
    try {
      return { id: p.id, re: new RegExp(p.pattern, 'iu') };
    } catch (err) {
      throw new CosmoError(`${path}: pattern "${p.id}" is not a valid regular expression: ${errorMessage(err)}`);
    }
  });
}
