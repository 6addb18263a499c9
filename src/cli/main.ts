import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CosmoError, errorMessage } from '../util/errors.js';
import { registerDebug } from './debug.js';
import { registerRun } from './run.js';
import { registerPilot } from './pilot.js';
import { registerPush } from './push.js';
import { registerReport } from './report.js';
import { registerView } from './view.js';
import { registerServe } from './serve.js';
import { registerContamination } from './contamination.js';
import { registerCluster } from './cluster.js';
import { registerRetrieve } from './retrieve.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('cosmo')
  .version(version, '-V, --version', 'print the cosmo version')
  .description('Build synthetic pretraining corpora: seeds -> prompts -> generate -> filter -> dedup -> decontaminate -> export')
  .showHelpAfterError();

registerRun(program);
registerCluster(program);
registerContamination(program);
registerRetrieve(program);
registerDebug(program);
registerServe(program);
registerPush(program);
registerPilot(program);
registerReport(program);
registerView(program);

// The commands above import what they run when they run it. The stage commands (`cosmo dedup
// corpus.yaml`, …) come from the stage registry, which loads every stage (0.2 s of a 0.35 s start):
// only when the command is none of the above, nor a request for the version (the help lists them
// all, after `run`).
const first = process.argv[2];
if (first !== '-V' && first !== '--version' && !program.commands.some((c) => c.name() === first)) {
  const { registerStageCommands } = await import('./stages.js');
  const commands = program.commands as Command[];
  const before = commands.length;
  registerStageCommands(program);
  commands.splice(1, 0, ...commands.splice(before));
}

program.parseAsync(process.argv).catch((err: unknown) => {
  // Errors meant for a person print without a stack; anything else is a bug and keeps its stack.
  if (err instanceof CosmoError) process.stderr.write(`cosmo: ${err.message}\n`);
  else process.stderr.write(`cosmo: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : errorMessage(err)}\n`);
  process.exit(1);
});
