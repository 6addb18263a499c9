import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CosmoError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { positiveInt } from './common.js';
import { withInterrupt } from './interrupt.js';

interface PushCliOptions {
  repo: string;
  revision: string;
  public?: boolean;
  tokenFile?: string;
  message?: string;
  partFiles: string;
}

/** The token: a file's first line, or HF_TOKEN. Never echoed, whatever goes wrong. */
function token(file: string | undefined): string {
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CosmoError(`cannot read --token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    const t = text.split('\n')[0]!.trim();
    if (!t) throw new CosmoError(`--token-file ${file} is empty`);
    return t;
  }
  const t = process.env.HF_TOKEN?.trim();
  if (!t) throw new CosmoError('no Hub token: set HF_TOKEN or pass --token-file FILE (a token with write access)');
  return t;
}

/** `cosmo push OUT_DIR --repo user/name`: the exported dataset to the Hugging Face Hub. */
export function registerPush(program: Command): void {
  program
    .command('push')
    .description('upload the exported dataset (shards, card, decontamination report) to a Hugging Face Hub dataset repo; a rerun uploads only what is missing')
    .argument('<dir>', 'the corpus output folder (its export/ is pushed) or an export folder')
    .requiredOption('--repo <owner/name>', 'dataset repo, created private when missing')
    .option('--revision <branch>', 'branch to commit to (created from main when missing)', 'main')
    .option('--public', 'create the repo public (default: private; an existing repo keeps its visibility)')
    .option('--token-file <file>', 'read the token from this file instead of HF_TOKEN')
    .option('--message <text>', 'commit message')
    .option('--part-files <n>', 'files per commit (large datasets go up in several commits)', '50')
    .action(async (dir: string, o: PushCliOptions) => {
      const partFiles = positiveInt('--part-files', o.partFiles);
      const { DEFAULT_HUB, pushDataset } = await import('../push/push.js');
      const hubUrl = process.env.HF_ENDPOINT ?? DEFAULT_HUB;
      const r = await withInterrupt((signal) =>
        pushDataset({ dir, repo: o.repo, revision: o.revision, private: !o.public, token: token(o.tokenFile), hubUrl, message: o.message, partFiles, log: createLogger('push'), signal }),
      );
      process.stdout.write(
        `cosmo push: ${r.committed.length} file(s) committed in ${r.commits} commit(s)${r.skipped.length ? `, ${r.skipped.length} already there` : ''}: ${r.url}\n`,
      );
    });
}
