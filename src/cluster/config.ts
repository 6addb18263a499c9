import { z } from 'zod';
import { embedderSchema } from '../embed/config.js';
import { poolShape } from '../engines/config.js';
import { SEED_KINDS } from '../records/types.js';

/** The LLM that names each cluster, and how it is asked. Its engines default to generate's. */
export const labelSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Members of a cluster shown to the LLM, drawn without replacement. */
  samples: z.number().int().positive().default(10),
  /** Each member's text is cut to this many characters in the prompt. */
  max_chars: z.number().int().positive().default(600),
  /** Tries per cluster when the answer is not a valid label. */
  attempts: z.number().int().positive().default(3),
  /** Clusters labelled at once. */
  concurrency: z.number().int().positive().default(8),
  /** A YAML file like templates/cluster/label.yaml (system, prompt with {{examples}}), relative to the corpus file. */
  prompt_file: z.string().optional(),
  ...poolShape,
  /** Engines to ask; by default generate's engines and endpoints file. */
  engines: poolShape.engines.optional(),
});

export const clusterSchema = z.strictObject({
  /** Run the stage: cluster the seeds into topics before the prompts are built. */
  enabled: z.boolean().default(false),
  /** Seeds of these kinds are clustered; the others pass through unchanged. */
  kinds: z.array(z.enum(SEED_KINDS)).min(1).default(['web']),
  embedder: embedderSchema,
  /** Texts are cut to this many characters before they are embedded. */
  text_chars: z.number().int().positive().default(2000),
  /** UMAP neighbours (larger: broader topics). */
  neighbors: z.number().int().min(2).default(15),
  /** UMAP and the clustering are fitted on at most this many documents; the others are assigned to the clusters found. */
  sample: z.number().int().positive().default(20_000),
  method: z.enum(['hdbscan', 'dbscan']).default('hdbscan'),
  /** Smallest cluster; default about 1/500 of the documents fitted on, at least 5. */
  min_cluster_size: z.number().int().min(2).optional(),
  /** Documents the clustering left as noise take the cluster of their nearest neighbours; off, they get no topic. */
  assign_noise: z.boolean().default(true),
  label: labelSchema.prefault({}),
  /** A YAML file like templates/cluster/blocklist.yaml: clusters whose topic matches are dropped. Default: the built-in list. */
  blocklist: z.string().optional(),
  /** Clusters whose educational score (1–10) is below this are dropped, with their documents. */
  min_score: z.number().min(0).max(10).default(3),
});
export type ClusterConfig = z.infer<typeof clusterSchema>;
