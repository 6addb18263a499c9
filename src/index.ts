/**
 * cosmo as a library. The CLI is one client of these: load a corpus config, run the pipeline or any
 * stage, or use the parts (seed loaders, prompt builder, knowledge index, engines, filters, dedup, decontamination).
 */
export * from './records/index.js';
export * from './config/index.js';
export * from './io/index.js';
export { JsonlWriter } from './io/jsonl-writer.js';
export { CosmoError, InputError, InterruptedError } from './util/errors.js';
export { createLogger, silentLogger, type Logger } from './util/log.js';
export { redact, registerSecret } from './util/redact.js';

export { corpusSchema, loadConfig, parseConfig, type CorpusConfig } from './pipeline/corpus.js';
export { resolvePath } from './pipeline/env.js';
export { runPipeline, planStages, stageDir, type StageResult, type PipelineOptions } from './pipeline/run.js';
export { dryRun, formatDryRun, type DryRunReport } from './pipeline/dry-run.js';
export { STAGES, REGISTRY, getStage, checkRegistry } from './pipeline/registry.js';
export { defineStage, type StageDef, type AnyStage, type TaskContext, type StageContext, type CorpusEnv, type RunOptions } from './exec/stage.js';
export { Stats, type StatsJson } from './exec/stats.js';
export { createExecutor } from './exec/create.js';
export type { Executor, StageJob } from './exec/executor.js';
export { startServers, type ServeOptions, type RunningServers } from './serve/servers.js';

export { loadSeeds, seedsStage } from './seeds/index.js';
export { clusterStage } from './cluster/stage.js';
export { clusterTexts, type Clustering, type ClusterInfo } from './cluster/run.js';
export { agreement, type Agreement } from './cluster/metrics.js';
export { createEmbedder } from './embed/create.js';
export type { Embedder } from './embed/types.js';
export { buildPrompts, loadTemplates, promptStats, formatPromptStats, promptsStage, FORMATS, AUDIENCES } from './prompts/index.js';
export { KNOWLEDGE_STAGES, knowledgeStage, groundStage } from './knowledge/stage.js';
export { KnowledgeIndex, rerank, type Hit, type SearchOptions } from './knowledge/search.js';
export { indexFiles, writeManifest } from './knowledge/build.js';
export { Grounder, promptQuery } from './knowledge/ground.js';
export * from './engines/index.js';
export { createEmbeddedEngine, type EmbeddedEngine } from './engines/embedded.js';
export { writeTestModel } from './engines/gguf.js';
export { resolveModelPath } from './engines/model-source.js';
export { generateStage, runGenerateTask } from './generate/stage.js';
export { filterStage } from './filter/stage.js';
export { QualityFilter } from './filter/filter.js';
export { Judge } from './filter/judge.js';
export { faithfulness, type Faithfulness } from './filter/faithfulness.js';
export { DEDUP_STAGES } from './dedup/stage.js';
export { MinHasher, estimatedJaccard } from './dedup/minhash.js';
export { decontaminateStage } from './decontaminate/stage.js';
export { Decontaminator } from './decontaminate/decontaminator.js';
export { loadBenchmarkDir } from './decontaminate/benchmarks.js';
export { exportStage, readExport } from './export/stage.js';
export { EXPORT_COLUMNS } from './export/columns.js';
