/**
 * `cosmo view` as a library: a local web page to browse a dataset the way the Hub's dataset viewer
 * does (pages of samples with their prompt, metadata and provenance; filters, full-text search,
 * sort by length) and to review it: a person flags a sample with a reason, or marks it good, and the
 * flag is appended to `review/flags.jsonl` for the next filter run.
 *
 * DuckDB reads the Parquet (or JSONL) files; nothing but a few arrays per row is held in memory.
 * Pages, sorts and searches go through the dataset's catalog (`catalog.ts`) once it is built in the
 * background, and through SQL over the whole dataset until then. The
 * server binds to 127.0.0.1, answers only requests addressed to it by that name (no DNS rebinding),
 * takes flags only as JSON from its own page (a cross-site form cannot send them), and sends the
 * page with a Content-Security-Policy that runs no script but its own file: the page puts data in
 * the document as text only.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { queryRows, sqlString } from '../io/parquet.js';
import { flagsPath, readFlags, REVIEW_REASONS, type ReviewFlag } from '../records/review.js';
import { datasetFiles, DIMENSIONS, relation } from '../report/collect.js';
import { CosmoError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { shippedDir } from '../util/shipped.js';
import { openCatalog, type Catalog } from './catalog.js';
import { parseQuery, whereClause } from './query.js';

const ASSETS = shippedDir('view');
const FIELDS = ['id', 'text', 'prompt', 'format', 'audience', 'topic', 'template_id', 'seed_source', 'seed_id', 'seed_data', 'language', 'token_length', 'model', 'finish_reason', 'created_at'];
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface ViewerOptions {
  /** A corpus output folder: its export, else its latest stage with samples. */
  dir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Who the flags are from (default: this user's name). */
  reviewer?: string;
  log?: Logger;
}

export interface Viewer {
  url: string;
  rows: number;
  close(): Promise<void>;
}

export async function startViewer(opts: ViewerOptions): Promise<Viewer> {
  const log = opts.log ?? silentLogger;
  const { files, source, outDir } = datasetFiles([opts.dir]);
  if (!outDir) throw new CosmoError(`cosmo view needs a corpus output folder (with export/ or a stage's samples), not ${opts.dir}`);
  const { from, columns } = await relation(files);
  // The catalog's copy and a page's query run side by side, each holding a row group of the export
  // (~120k rows, 100+ MB of text): the 512 MB a pipeline task gets is too little for both.
  await queryRows(`SET memory_limit = '2GB'`);
  const dims = DIMENSIONS.filter((d) => columns.has(d) && d !== 'model');
  const fields = FIELDS.filter((f) => columns.has(f));
  const select = fields.map((f) => `"${f}"`).join(', ');
  const [{ n: rows } = { n: 0 }] = (await queryRows(`SELECT count(*)::BIGINT AS n FROM ${from}`)) as { n: number }[];
  const facets: Record<string, { value: string; n: number }[]> = {};
  for (const d of dims)
    facets[d] = (await queryRows(`SELECT coalesce("${d}"::VARCHAR, '(none)') AS v, count(*)::BIGINT AS n FROM ${from} GROUP BY 1 ORDER BY n DESC, v LIMIT 200`)).map((r) => ({ value: String(r.v), n: Number(r.n) }));
  // The first page read once before the page is served: a cold first read of a large Parquet file
  // costs about half a second, which the person opening the page would otherwise wait for.
  await queryRows(`SELECT ${select} FROM ${from} LIMIT 21`);
  // The catalog is built (or loaded) in the background; until it is ready, SQL over the dataset answers.
  const building = new AbortController();
  const catalogState = { state: 'building' as 'building' | 'ready' | 'failed', done: 0, total: Number(rows) };
  let catalog: Catalog | undefined;
  const started = performance.now();
  const cataloguing = openCatalog({ dir: join(outDir, 'view'), files, from, fields, dims, signal: building.signal, progress: (done) => (catalogState.done = done) })
    .then(async (c) => {
      // One person waits on the queries from now on, and nothing else runs: every core helps. While
      // the catalog was built, one thread (DuckDB's default here) left the other core to the page.
      await queryRows(`SET threads = ${availableParallelism()}`);
      catalog = c;
      Object.assign(catalogState, { state: 'ready', done: c.rows });
      log.info('catalog ready: sorts and searches read only what they show', { rows: c.rows, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) });
    })
    .catch((err: unknown) => {
      catalogState.state = 'failed';
      if (!building.signal.aborted) log.warn('no catalog: every page is a query over the whole dataset', { error: String(err) });
    });
  const flagsFile = flagsPath(outDir);
  const reviewer = opts.reviewer ?? userInfo().username;
  const host = opts.host ?? '127.0.0.1';
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(host);
  let origin = '';

  const send = (res: ServerResponse, status: number, body: string | Buffer, type: string) => {
    res.writeHead(status, { 'content-type': type, 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
  const latestFlags = () => {
    const latest = new Map<string, ReviewFlag>();
    for (const f of readFlags(flagsFile)) latest.set(f.id, f);
    return latest;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Only requests addressed to this server by its own name: a page elsewhere cannot rebind a name to it.
    if (loopback && req.headers.host !== new URL(origin).host && req.headers.host !== `localhost:${new URL(origin).port}`) return send(res, 421, 'wrong host', 'text/plain');
    const url = new URL(req.url ?? '/', origin);
    if (req.method === 'GET' && url.pathname === '/') return send(res, 200, await readFile(join(ASSETS, 'index.html')), 'text/html; charset=utf-8');
    if (req.method === 'GET' && (url.pathname === '/app.js' || url.pathname === '/app.css'))
      return send(res, 200, await readFile(join(ASSETS, url.pathname.slice(1))), url.pathname.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
    if (url.pathname === '/favicon.ico') return send(res, 204, '', 'image/x-icon');
    if (req.method === 'GET' && url.pathname === '/api/info') return json(res, 200, { title: outDir.split('/').filter(Boolean).pop(), source, rows: Number(rows), facets, reasons: REVIEW_REASONS, reviewer, catalog: catalogState });
    if (req.method === 'GET' && url.pathname === '/api/rows') {
      const q = parseQuery(url, dims);
      const flags = latestFlags();
      const answer = (found: Record<string, unknown>[], more: boolean) =>
        json(res, 200, { page: q.page, size: q.size, more, rows: found.map((r) => ({ ...r, flag: flags.get(String(r.id)) ?? null })) });
      const page = await catalog?.page(q);
      if (page) return answer(await catalog!.fetch(page.rows, select), page.more);
      const order = q.sort === 'long' ? 'ORDER BY length(text) DESC' : q.sort === 'short' ? 'ORDER BY length(text) ASC' : '';
      // One more than a page: whether there is a next one, without counting every match.
      const found = await queryRows(`SELECT ${select} FROM ${from} ${whereClause(q)} ${order} LIMIT ${q.size + 1} OFFSET ${q.page * q.size}`);
      return answer(found.slice(0, q.size), found.length > q.size);
    }
    if (req.method === 'GET' && url.pathname === '/api/count') {
      const q = parseQuery(url, dims);
      const total = (await catalog?.count(q)) ?? Number((await queryRows(`SELECT count(*)::BIGINT AS n FROM ${from} ${whereClause(q)}`))[0]?.n ?? 0);
      return json(res, 200, { total });
    }
    if (req.method === 'POST' && url.pathname === '/api/flag') {
      // JSON from this page only: a form on another site can send neither this type nor this origin.
      if (!String(req.headers['content-type']).startsWith('application/json') || (req.headers.origin && req.headers.origin !== origin)) return json(res, 403, { error: 'flags are taken from the viewer page only' });
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let body: { id?: unknown; verdict?: unknown; reason?: unknown; note?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        return json(res, 400, { error: 'not JSON' });
      }
      if (typeof body.id !== 'string' || (body.verdict !== 'bad' && body.verdict !== 'good')) return json(res, 400, { error: 'a flag needs an id and a verdict (bad or good)' });
      const reason = body.verdict === 'good' ? 'good' : String(body.reason ?? '');
      if (body.verdict === 'bad' && !(REVIEW_REASONS as readonly string[]).includes(reason)) return json(res, 400, { error: `reason must be one of ${REVIEW_REASONS.join(', ')}` });
      const [row] = await queryRows(`SELECT ${columns.has('template_id') ? 'template_id' : 'NULL AS template_id'} FROM ${from} WHERE id = ${sqlString(body.id)} LIMIT 1`);
      if (!row) return json(res, 404, { error: `no sample has id ${body.id}` });
      const flag: ReviewFlag = {
        id: body.id,
        verdict: body.verdict,
        reason,
        ...(typeof body.note === 'string' && body.note.trim() ? { note: body.note.slice(0, 2000) } : {}),
        template_id: (row.template_id as string | null) ?? null,
        who: reviewer,
        at: new Date().toISOString(),
      };
      await mkdir(dirname(flagsFile), { recursive: true });
      await appendFile(flagsFile, `${JSON.stringify(flag)}\n`);
      log.info('flag', { id: flag.id, verdict: flag.verdict, reason: flag.reason });
      return json(res, 200, { flag });
    }
    send(res, 404, 'not found', 'text/plain');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error('viewer request failed', { path: req.url, error: String(err) });
      if (!res.headersSent) json(res, 500, { error: 'the query failed; see the viewer log' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new CosmoError(`cannot listen on ${host}:${opts.port ?? 8300}: ${err.code ?? err.message}`)));
    server.listen(opts.port ?? 8300, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: origin,
    rows: Number(rows),
    close: async () => {
      building.abort();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await cataloguing;
    },
  };
}
