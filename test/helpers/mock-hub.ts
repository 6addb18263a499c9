/**
 * A local stand-in for the Hugging Face Hub, answering the endpoints `@huggingface/hub` calls to
 * create a repo and commit files with the LFS protocol (the real Hub cannot be reached here):
 *
 * - `POST /api/repos/create` {name, organization, type, visibility}: 409 when it exists;
 * - `POST /api/{type}s/{ns}/{name}/branch/{branch}`: 409 when it exists;
 * - `POST /api/{type}s/{ns}/{name}/preupload/{rev}`: `lfs` for Parquet and anything over 1 MB, else `regular`;
 * - `POST /{type}s/{ns}/{name}.git/info/lfs/objects/batch`: `basic` transfer; an object already
 *   stored gets no upload action (the Hub's dedup), others an upload URL;
 * - `PUT /lfs/{oid}`: the object, checked against its sha256 (optional delay: a push can be killed midway);
 * - `POST /api/{type}s/{ns}/{name}/commit/{rev}` (NDJSON header, file, lfsFile): every LFS file
 *   must have been uploaded, else 400; the files land in the branch.
 *
 * Every call needs `Authorization: Bearer <token>` (401 otherwise). The server keeps the repos, the
 * uploads (to count what was sent twice) and every request's path and headers.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepo {
  type: string;
  private: boolean;
  /** branch → path → content (sha256 of LFS files, or the text of regular ones) */
  branches: Map<string, Map<string, { lfs: boolean; oid: string; size: number; content?: Buffer }>>;
  commits: { branch: string; title: string; paths: string[] }[];
}

export interface MockHub {
  url: string;
  repos: Map<string, HubRepo>;
  /** Objects PUT, by oid, with how many times each was sent. */
  uploads: Map<string, number>;
  objects: Map<string, Buffer>;
  requests: { method: string; path: string; authorization?: string }[];
  close(): Promise<void>;
}

export async function startMockHub(opts: { token: string; uploadDelayMs?: number }): Promise<MockHub> {
  const repos = new Map<string, HubRepo>();
  const uploads = new Map<string, number>();
  const objects = new Map<string, Buffer>();
  const requests: MockHub['requests'] = [];
  let url = '';

  const body = (req: IncomingMessage) =>
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  const send = (res: ServerResponse, status: number, json: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(json));
  };

  const server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]!);
    requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization });
    try {
      // LFS storage: presigned upload URLs need no token, as S3's do not.
      const put = /^\/lfs\/([0-9a-f]{64})$/.exec(path);
      if (req.method === 'PUT' && put) {
        const data = await body(req);
        if (opts.uploadDelayMs) await new Promise((r) => setTimeout(r, opts.uploadDelayMs));
        if (createHash('sha256').update(data).digest('hex') !== put[1]) return send(res, 400, { error: 'sha256 mismatch' });
        objects.set(put[1]!, data);
        uploads.set(put[1]!, (uploads.get(put[1]!) ?? 0) + 1);
        res.writeHead(200, { etag: `"${put[1]}"` });
        return res.end();
      }
      if (req.headers.authorization !== `Bearer ${opts.token}`) return send(res, 401, { error: 'Invalid credentials in Authorization header' });

      if (req.method === 'POST' && path === '/api/repos/create') {
        const b = JSON.parse((await body(req)).toString()) as { name: string; organization: string; type: string; visibility?: string; private?: boolean };
        const id = `${b.type}:${b.organization}/${b.name}`;
        if (repos.has(id)) return send(res, 409, { error: `You already created this ${b.type} repo`, url: `${url}/${b.type}s/${b.organization}/${b.name}` });
        repos.set(id, { type: b.type, private: b.visibility === 'private' || b.private === true, branches: new Map([['main', new Map()]]), commits: [] });
        return send(res, 200, { url: `${url}/${b.type}s/${b.organization}/${b.name}`, name: `${b.organization}/${b.name}` });
      }
      const api = /^\/api\/(dataset|model|space)s\/([^/]+\/[^/]+)\/(branch|preupload|commit)\/(.+)$/.exec(path);
      const lfs = /^\/(?:(dataset|space)s\/)?([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(path);
      const repoOf = (type: string, name: string) => repos.get(`${type}:${name}`);
      if (req.method === 'POST' && api) {
        const [, type, name, what, rev] = api;
        const repo = repoOf(type!, name!);
        if (!repo) return send(res, 404, { error: 'Repository not found' });
        const b = await body(req);
        if (what === 'branch') {
          if (repo.branches.has(rev!)) return send(res, 409, { error: `Reference already exists: refs/heads/${rev}` });
          repo.branches.set(rev!, new Map(repo.branches.get('main')));
          return send(res, 200, {});
        }
        const branch = repo.branches.get(rev!);
        if (!branch) return send(res, 404, { error: `Invalid rev id: ${rev}` });
        if (what === 'preupload') {
          const { files } = JSON.parse(b.toString()) as { files: { path: string; size: number }[] };
          return send(res, 200, { files: files.map((f) => ({ path: f.path, uploadMode: f.path.endsWith('.parquet') || f.size > 1 << 20 ? 'lfs' : 'regular', shouldIgnore: false })), commitOid: 'main' });
        }
        // commit: NDJSON
        const lines = b.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
        const header = lines.find((l) => l.key === 'header')?.value;
        const paths: string[] = [];
        for (const { key, value } of lines) {
          if (key === 'lfsFile') {
            const oid = String(value.oid);
            if (!objects.has(oid)) return send(res, 400, { error: `LFS object ${oid} of ${String(value.path)} was never uploaded` });
            branch.set(String(value.path), { lfs: true, oid, size: Number(value.size) });
            paths.push(String(value.path));
          } else if (key === 'file') {
            const content = Buffer.from(String(value.content), 'base64');
            branch.set(String(value.path), { lfs: false, oid: createHash('sha1').update(content).digest('hex'), size: content.length, content });
            paths.push(String(value.path));
          }
        }
        repo.commits.push({ branch: rev!, title: String(header?.summary ?? ''), paths });
        const oid = createHash('sha1').update(`${name}${repo.commits.length}`).digest('hex');
        return send(res, 200, { success: true, commitOid: oid, commitUrl: `${url}/${type}s/${name}/commit/${oid}`, hookOutput: '' });
      }
      if (req.method === 'POST' && lfs) {
        const repo = repoOf(lfs[1] ?? 'model', lfs[2]!);
        if (!repo) return send(res, 404, { error: 'Repository not found' });
        const b = JSON.parse((await body(req)).toString()) as { objects: { oid: string; size: number }[] };
        return send(res, 200, {
          transfer: 'basic',
          objects: b.objects.map((o) => (objects.has(o.oid) ? { oid: o.oid, size: o.size } : { oid: o.oid, size: o.size, actions: { upload: { href: `${url}/lfs/${o.oid}` } } })),
        });
      }
      send(res, 404, { error: `no such endpoint: ${req.method} ${path}` });
    } catch (err) {
      send(res, 500, { error: String(err) });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    repos,
    uploads,
    objects,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
