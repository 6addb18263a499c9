/**
 * cosmo as a library. The CLI is one client of these: load a corpus config, run the pipeline or any
 * stage, or use the parts (seed loaders, prompt builder, engines, filters, dedup, decontamination).
 */
export * from './records/index.js';
export * from './config/index.js';
export * from './io/index.js';
export { JsonlWriter, writeTaskShards } from './io/jsonl-writer.js';
export { CosmoError, InputError } from './util/errors.js';
export { createLogger, silentLogger, type Logger } from './util/log.js';

export { runPipeline, planStages, stageDir, type StageResult, type PipelineOptions } from './pipeline/run.js';
export { dryRun, formatDryRun, type DryRunReport } from './pipeline/dry-run.js';
export { STAGES, getStage } from './pipeline/stages.js';
export type { StageDef, TaskContext, RunOptions } from './exec/stage.js';
export { Stats, type StatsJson } from './exec/stats.js';
export { runStageLocal } from './exec/local.js';
export { runStagesSlurm } from './exec/slurm.js';
export { startServers, type ServeOptions, type RunningServers } from './serve/servers.js';

export { loadSeeds, seedsStage } from './seeds/index.js';
export { buildPrompts, loadTemplates, promptStats, formatPromptStats, promptsStage, FORMATS, AUDIENCES } from './prompts/index.js';
export * from './engines/index.js';
export { createEmbeddedEngine, type EmbeddedEngine } from './engines/embedded.js';
export { writeTestModel } from './engines/gguf.js';
export { resolveModelPath } from './engines/model-source.js';
export { generateStage, runGenerateTask } from './generate/stage.js';
export { filterStage } from './quality/stage.js';
export { QualityFilter } from './quality/filter.js';
export { Judge } from './quality/judge.js';
export { DEDUP_STAGES } from './dedup/stage.js';
export { MinHasher, estimatedJaccard } from './dedup/minhash.js';
export { decontamStage } from './decontam/stage.js';
export { Decontaminator } from './decontam/decontaminator.js';
export { loadBenchmarkDir } from './decontam/benchmarks.js';
export { exportStage, readExport, EXPORT_COLUMNS } from './export/stage.js';
