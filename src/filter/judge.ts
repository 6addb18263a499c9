import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Engine } from '../engines/types.js';
import { formatPassages } from '../records/grounding.js';
import { stableDraw } from '../records/id.js';
import type { Sample } from '../records/types.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { shippedDir } from '../util/shipped.js';
import type { JudgeConfig } from './config.js';

const rubricSchema = z.strictObject({
  id: z.string().regex(/^\w+$/),
  version: z.number().int(),
  description: z.string(),
  /** Default threshold: samples scoring below it are dropped. */
  min_score: z.number().min(0).max(5),
  /** Sample fields that must be non-empty for the rubric to apply (e.g. seed_data for fact checks). */
  requires: z.array(z.enum(['prompt', 'seed_data', 'passages'])).default([]),
  system: z.string(),
  /** The user message; {{text}}, {{prompt}}, {{seed_data}} and {{passages}} (a grounded sample's) are filled from the sample. */
  prompt: z.string(),
});
export type Rubric = z.infer<typeof rubricSchema>;

/** The structured answer every rubric asks for: score first, so a reply cut short still yields it. */
export const JUDGE_SCHEMA = {
  type: 'object',
  properties: {
    score: { type: 'integer', enum: [0, 1, 2, 3, 4, 5] },
    reason: { type: 'string' },
  },
  required: ['score', 'reason'],
  additionalProperties: false,
} as const;

/** A rubric from a YAML file, or the built-in one named `id`. Errors name the file. */
export function loadRubric(id: string, file?: string): Rubric {
  const path = file ?? join(shippedDir('filter'), 'judge', `${id}.yaml`);
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CosmoError(
      code === 'ENOENT' && !file
        ? `no built-in judge rubric "${id}" (looked for ${path}); give its file`
        : `${path}: cannot read judge rubric: ${code ?? errorMessage(err)}`,
    );
  }
  const parsed = rubricSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CosmoError(`${path}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  if (parsed.data.id !== id) throw new CosmoError(`${path}: rubric id is "${parsed.data.id}", but the config asks for "${id}"`);
  return parsed.data;
}

export interface Judgement {
  score: number;
  reason: string;
}

export type JudgeVerdict =
  | { keep: true; scores: Record<string, number>; failed: { rubric: string; error: string }[] }
  | { keep: false; rubric: string; score?: number; detail: string };

/** A grounded sample's passages as the judge reads them, numbered; empty for a sample without any. */
const passagesText = (s: Sample): string => formatPassages(s.grounding?.passages ?? []);

/** Read a judge's reply: JSON per JUDGE_SCHEMA, or, from a reply cut short, its leading score. */
export function parseJudgement(text: string): Judgement {
  try {
    const v = JSON.parse(text) as Partial<Judgement>;
    if (Number.isInteger(v.score) && v.score! >= 0 && v.score! <= 5) return { score: v.score!, reason: String(v.reason ?? '') };
  } catch {
    // fall through to the salvage below
  }
  const m = /^\s*\{\s*"score"\s*:\s*([0-5])\s*[,}]/.exec(text);
  if (m) return { score: Number(m[1]), reason: '' };
  throw new Error(`not a judgement: ${JSON.stringify(text.slice(0, 120))}`);
}

/**
 * Scores samples with an LLM, one rubric after another (a sample fails at its first rubric under
 * the threshold, so later rubrics are not paid for). Works with any Engine, usually an EnginePool.
 */
export class Judge {
  readonly rubrics: { rubric: Rubric; minScore: number; share: number }[];

  constructor(
    private readonly engine: Pick<Engine, 'complete'>,
    private readonly cfg: JudgeConfig,
    resolvePath: (p: string) => string = (p) => p,
  ) {
    this.rubrics = cfg.rubrics.map((r) => {
      const rubric = loadRubric(r.id, r.file && resolvePath(r.file));
      return { rubric, minScore: r.min_score ?? rubric.min_score, share: r.share };
    });
  }

  /** The chat messages a rubric sends for a sample. */
  messages(rubric: Rubric, s: Sample): { role: 'system' | 'user'; content: string }[] {
    const fields: Record<string, string> = {
      text: s.text.length > this.cfg.max_text_chars ? s.text.slice(0, this.cfg.max_text_chars) : s.text,
      prompt: s.prompt ?? '',
      seed_data: s.seed_data ?? '',
      passages: passagesText(s),
    };
    const content = rubric.prompt.replace(/\{\{\s*(text|prompt|seed_data|passages)\s*\}\}/g, (_m, k: string) => fields[k]!);
    return [
      { role: 'system', content: rubric.system },
      { role: 'user', content },
    ];
  }

  async judge(s: Sample, signal?: AbortSignal): Promise<JudgeVerdict> {
    const scores: Record<string, number> = {};
    const failed: { rubric: string; error: string }[] = [];
    for (const { rubric, minScore, share } of this.rubrics) {
      if (rubric.requires.some((f) => !(f === 'passages' ? passagesText(s) : s[f])?.trim())) continue;
      if (share < 1 && stableDraw('judge', rubric.id, s.id) >= share) continue;
      let j: Judgement;
      try {
        const reply = await this.engine.complete({
          messages: this.messages(rubric, s),
          params: { temperature: this.cfg.temperature, top_p: 1, max_tokens: this.cfg.max_tokens },
          jsonSchema: JUDGE_SCHEMA as unknown as Record<string, unknown>,
          signal,
        });
        j = parseJudgement(reply.text);
      } catch (err) {
        signal?.throwIfAborted();
        if (this.cfg.on_error === 'drop') return { keep: false, rubric: rubric.id, detail: `no judgement: ${errorMessage(err)}` };
        failed.push({ rubric: rubric.id, error: errorMessage(err) });
        continue;
      }
      if (j.score < minScore)
        return { keep: false, rubric: rubric.id, score: j.score, detail: `score ${j.score} < ${minScore}${j.reason ? `: ${j.reason}` : ''}` };
      scores[rubric.id] = j.score;
    }
    return { keep: true, scores, failed };
  }
}
