import { z } from 'zod';

export const promptsSchema = z.strictObject({
  /** How many shards (and tasks) the prompts are written as; generate's tasks read them. */
  tasks: z.number().int().positive().default(1),
  /** Audiences to write for; each prompt draws one. */
  audiences: z.array(z.string()).default(['young_children', 'high_school', 'college', 'researchers']),
  /** Format every prompt asks for. */
  format: z.string().default('textbook'),
  /** Target language of the generated text. */
  language: z.string().default('en'),
});
export type PromptsConfig = z.infer<typeof promptsSchema>;
