/**
 * Runs the generate stage of a test corpus in its own process, through runPipeline, so that a test
 * can SIGKILL it at any moment. Usage: node --import tsx generate-child.ts <spec.json>
 * where spec.json is {"dir": "<corpus output dir>", "generate": {...generate config...}}.
 */
import { readFileSync } from 'node:fs';
import { runPipeline } from '../../src/pipeline/run.js';
import { createLogger } from '../../src/util/log.js';
import { corpusConfig } from './helpers.js';

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { dir: string; generate: Record<string, unknown> };
await runPipeline(corpusConfig(spec.dir, spec.generate), { only: ['generate'], log: createLogger('child', { level: 'warn' }), progress: 'none' });
