/**
 * `cosmo push` against a local stand-in for the Hub (test/helpers/mock-hub.ts), through
 * `@huggingface/hub` as it talks to the real one: a full push in parts with the card last, a push
 * killed midway and resumed without sending a file twice, branches and visibility, and a token that
 * reaches no output, file or card.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeShard } from '../../src/io/shards.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { cosmo } from '../helpers/cli.js';
import { startMockHub, type MockHub } from '../helpers/mock-hub.js';
import { makeSample } from '../helpers/sample.js';

const TOKEN = 'hf_cosmoTestToken0123456789abcdef';
let out: string;
let files: string[];
const hubs: MockHub[] = [];

afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});

/** A real export: 250 samples in 13 Parquet and 13 JSONL.gz files, and its card. */
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-push-'));
  const samples = Array.from({ length: 250 }, (_, i) => makeSample(`sample ${i}: ${'a textbook paragraph about rivers and their deltas '.repeat(8)}`));
  await writeShard(join(dir, 'out', 'dedup', '0.jsonl'), samples);
  const cfg = parseConfig(
    { output: 'out', seeds: [{ kind: 'web', path: 'unused.jsonl' }], decontaminate: { enabled: false }, export: { shard_rows: 20, formats: ['parquet', 'jsonl.gz'] } },
    { file: join(dir, 'corpus.yaml'), baseDir: dir },
  );
  await runPipeline(cfg, { only: ['export'], log: silentLogger });
  out = join(dir, 'out');
  files = readdirSync(join(out, 'export')).filter((f) => /\.(parquet|jsonl\.gz)$/.test(f));
  expect(files.length).toBe(26);
});

async function hub(uploadDelayMs = 0): Promise<MockHub> {
  const h = await startMockHub({ token: TOKEN, uploadDelayMs });
  hubs.push(h);
  return h;
}

const env = (h: MockHub, extra: Record<string, string> = {}) => ({ ...process.env, HF_ENDPOINT: h.url, HF_TOKEN: TOKEN, ...extra });
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('cosmo push', () => {
  it('creates a private dataset repo and commits the shards in parts, the card last, with the token in no output or file', async () => {
    const h = await hub();
    const r = await cosmo(['push', out, '--repo', 'alice/rivers', '--part-files', '10'], { env: env(h) }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`cosmo push: 27 file(s) committed in 4 commit(s): ${h.url}/datasets/alice/rivers`);
    const repo = h.repos.get('dataset:alice/rivers')!;
    expect(repo.private).toBe(true);
    expect(repo.commits.map((c) => c.paths.length)).toEqual([10, 10, 6, 1]);
    expect(repo.commits.at(-1)!.paths).toEqual(['README.md']);
    const main = repo.branches.get('main')!;
    expect([...main.keys()].sort()).toEqual([...files, 'README.md'].sort());
    // Parquet went through LFS, byte for byte; the card as a regular file.
    for (const f of files.filter((x) => x.endsWith('.parquet'))) expect(main.get(f)).toMatchObject({ lfs: true, oid: sha256(join(out, 'export', f)) });
    expect(main.get('README.md')!.content!.toString()).toBe(readFileSync(join(out, 'export', 'README.md'), 'utf8'));
    // Every Hub call carried the token; nothing this push printed or wrote does.
    expect(h.requests.filter((q) => !q.path.startsWith('/lfs/')).every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const manifest = readFileSync(join(out, 'export', '.push', 'alice__rivers@main.json'), 'utf8');
    for (const text of [r.stdout, r.stderr, manifest, readFileSync(join(out, 'export', 'README.md'), 'utf8')]) expect(text).not.toContain(TOKEN);

    // Pushed again: nothing to do.
    const again = await cosmo(['push', out, '--repo', 'alice/rivers'], { env: env(h) }).done;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('0 file(s) committed in 0 commit(s), 27 already there');
    expect(repo.commits.length).toBe(4);
  }, 60_000);

  it('resumes a push killed midway: the rest is committed, and no file is uploaded twice', async () => {
    const h = await hub(150);
    const first = cosmo(['push', out, '--repo', 'alice/resumed', '--part-files', '4', '--revision', 'run-1'], { env: env(h) });
    // Killed once a part is committed and the next part's uploads have reached the Hub.
    const committedLfs = () => (h.repos.get('dataset:alice/resumed')?.commits ?? []).flatMap((c) => c.paths).filter((p) => p.endsWith('.parquet')).length;
    const puts = () => h.requests.filter((q) => q.method === 'PUT').length;
    for (let i = 0; i < 800 && !(committedLfs() > 0 && puts() > committedLfs()); i++) await new Promise((res) => setTimeout(res, 10));
    first.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.code).not.toBe(0);
    const repo = h.repos.get('dataset:alice/resumed')!;
    const before = repo.commits.length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(8);
    // Uploads the killed client started finish on the server: objects stored but in no commit yet.
    await new Promise((res) => setTimeout(res, 400));
    expect(h.objects.size).toBeGreaterThan(committedLfs());

    const second = await cosmo(['push', out, '--repo', 'alice/resumed', '--part-files', '4', '--revision', 'run-1'], { env: env(h) }).done;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/already there/);
    const branch = repo.branches.get('run-1')!;
    expect([...branch.keys()].sort()).toEqual([...files, 'README.md'].sort());
    // Each file committed once over both runs, each LFS object sent once.
    expect(repo.commits.flatMap((c) => c.paths).sort()).toEqual([...files, 'README.md'].sort());
    expect([...h.uploads.values()].every((n) => n === 1)).toBe(true);
    // The branch was made from main; main itself got nothing.
    expect(repo.branches.get('main')!.size).toBe(0);
  }, 60_000);

  it('creates a public repo when asked, reads the token from a file, and says what is wrong without the token', async () => {
    const h = await hub();
    const tokenFile = join(out, 'token.txt');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const pub = await cosmo(['push', out, '--repo', 'bob/open', '--public', '--token-file', tokenFile], { env: { ...env(h), HF_TOKEN: '' } }).done;
    expect(pub.code, pub.stderr).toBe(0);
    expect(h.repos.get('dataset:bob/open')!.private).toBe(false);

    const none = await cosmo(['push', out, '--repo', 'bob/x'], { env: { ...env(h), HF_TOKEN: '' } }).done;
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no Hub token: set HF_TOKEN or pass --token-file FILE');

    const wrong = 'hf_wrongWrongWrong0123456789';
    const denied = await cosmo(['push', out, '--repo', 'bob/x'], { env: env(h, { HF_TOKEN: wrong }) }).done;
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/cannot create dataset repo bob\/x on http:\/\/127\.0\.0\.1:\d+: the Hub answered 401: Invalid credentials/);
    expect(denied.stderr + denied.stdout).not.toContain(wrong);

    const nothing = await cosmo(['push', join(out, 'dedup'), '--repo', 'bob/x'], { env: env(h) }).done;
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('no exported dataset in');
  }, 60_000);
});
