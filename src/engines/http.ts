/**
 * A small HTTP/1.1 client with keep-alive sockets, for the one thing the OpenAI-compatible engine
 * does: POST a JSON body, read a JSON answer. At 1,000 requests in flight and thousands per second,
 * general-purpose clients (node:http, undici) spend about twice the CPU per request that this does,
 * and the client must never be what limits a GPU server. Content-Length and chunked bodies, TLS,
 * and stale keep-alive sockets are handled; everything else HTTP can do is not needed here.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { onAbort } from '../util/abort.js';
import { CosmoError } from '../util/errors.js';

export interface HttpResponse {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: Buffer;
}

/** A transport failure (no complete answer): `code` is the socket error code where there is one. */
export class HttpConnectionError extends CosmoError {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'HttpConnectionError';
  }
}

const CRLF = Buffer.from('\r\n');
/** Shared by every parser until its answer's head arrives: a request in flight holds none of its own. */
const EMPTY = Buffer.alloc(0);
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const HEAD_END = Buffer.from('\r\n\r\n');

/** Incremental parser of one response. */
class ResponseParser {
  status = 0;
  headers: Readonly<Record<string, string>> = NO_HEADERS;
  keepAlive = true;
  private pending: Buffer = EMPTY;
  private mode: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'trailers' | 'until-close' = 'head';
  private remaining = 0;
  private parts: Buffer[] = [];
  /** Bytes of the response seen so far (a stale socket closes before sending any). */
  received = 0;

  /** Feed bytes; true once the response is complete. */
  feed(chunk: Buffer): boolean {
    this.received += chunk.length;
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      switch (this.mode) {
        case 'head': {
          const end = this.pending.indexOf(HEAD_END);
          if (end < 0) return false;
          this.parseHead(this.pending.toString('latin1', 0, end));
          this.pending = this.pending.subarray(end + 4);
          if (this.status < 200) continue; // 1xx: another head follows
          break;
        }
        case 'length': {
          const take = Math.min(this.remaining, this.pending.length);
          if (take > 0) this.parts.push(this.pending.subarray(0, take));
          this.remaining -= take;
          this.pending = this.pending.subarray(take);
          return this.remaining === 0;
        }
        case 'chunk-size': {
          const eol = this.pending.indexOf(CRLF);
          if (eol < 0) return false;
          const size = parseInt(this.pending.toString('latin1', 0, eol).split(';')[0]!.trim(), 16);
          if (Number.isNaN(size)) throw new HttpConnectionError('malformed chunked encoding');
          this.pending = this.pending.subarray(eol + 2);
          this.mode = size === 0 ? 'trailers' : 'chunk-data';
          this.remaining = size;
          continue;
        }
        case 'chunk-data': {
          if (this.pending.length < this.remaining + 2) return false;
          this.parts.push(this.pending.subarray(0, this.remaining));
          this.pending = this.pending.subarray(this.remaining + 2);
          this.mode = 'chunk-size';
          continue;
        }
        case 'trailers': {
          if (this.pending.subarray(0, 2).equals(CRLF)) return true;
          const end = this.pending.indexOf(HEAD_END);
          return end >= 0;
        }
        case 'until-close':
          this.parts.push(this.pending);
          this.pending = EMPTY;
          return false;
      }
      // A head was just parsed: choose how the body is framed.
      const te = this.headers['transfer-encoding'];
      const cl = this.headers['content-length'];
      if (te && /chunked/i.test(te)) this.mode = 'chunk-size';
      else if (cl !== undefined) {
        this.mode = 'length';
        this.remaining = Number(cl);
        if (this.remaining === 0) return true;
      } else if (this.status === 204 || this.status === 304) return true;
      else {
        this.mode = 'until-close';
        this.keepAlive = false;
      }
    }
  }

  /** The socket ended: complete only for a body that runs until close. */
  endOfStream(): boolean {
    return this.mode === 'until-close';
  }

  body(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
  }

  private parseHead(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/(\d\.\d) (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new HttpConnectionError(`malformed status line: ${(lines[0] ?? '').slice(0, 80)}`);
    this.status = Number(m[2]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    this.headers = headers;
    const conn = (headers.connection ?? '').toLowerCase();
    this.keepAlive = m[1] === '1.1' ? conn !== 'close' : conn === 'keep-alive';
  }
}

/** A keep-alive socket, with the one request it carries now (none while idle). */
interface Conn {
  sock: Socket;
  exchange: Exchange | undefined;
}

/**
 * One request on a connection, from the write to the answer. The connection's listeners stay for
 * the socket's life and hand its events to the exchange it carries, so a request adds no listener
 * churn on the socket: with 1,000 in flight for hundreds of milliseconds each, what a request holds
 * is what the garbage collector copies.
 */
class Exchange {
  readonly parser = new ResponseParser();
  private done = false;
  /** Stops listening to the caller's signal. */
  private offAbort: (() => void) | undefined;

  constructor(
    private readonly pool: HttpPool,
    private readonly conn: Conn,
    /** Builds the request again, for a fresh socket, while a stale keep-alive one may still fail it. */
    private retry: (() => Buffer | string) | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (res: HttpResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  onData(chunk: Buffer): void {
    try {
      const complete = this.parser.feed(chunk);
      this.retry = undefined; // the server answered: this socket was not stale
      if (complete) this.complete();
    } catch (err) {
      this.finish(err as Error);
    }
  }

  onClose(): void {
    const p = this.parser;
    if (p.received > 0 && p.endOfStream()) this.complete();
    else this.finish(new HttpConnectionError(p.received ? 'connection closed in the middle of the answer' : 'connection closed before an answer', 'ECONNRESET'));
  }

  /** Listen to the caller's signal (many requests share one: see util/abort.ts). */
  listen(signal: AbortSignal): void {
    this.offAbort = onAbort(signal, () => this.finish(new AbortError()));
  }

  complete(): void {
    const p = this.parser;
    this.finish(undefined, { status: p.status, headers: p.headers, body: p.body() });
  }

  finish(err: Error | undefined, res?: HttpResponse): void {
    if (this.done) return;
    this.done = true;
    const { conn, pool } = this;
    conn.exchange = undefined;
    this.offAbort?.();
    if (err) {
      conn.sock.destroy();
      // A kept-alive socket the server had just closed: nothing was sent; try a fresh one.
      if (this.retry && this.parser.received === 0 && !(err instanceof AbortError))
        return void pool.send(this.retry, this.signal, false).then(this.resolve, this.reject);
      return this.reject(err);
    }
    pool.done(conn, this.parser.keepAlive);
    this.resolve(res!);
  }
}

/** Keep-alive sockets to one origin. Callers bound concurrency; each request in flight holds one socket. */
export class HttpPool {
  private readonly idle: Conn[] = [];
  private readonly conns = new Set<Conn>();
  private readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;
  private readonly hostHeader: string;
  private closed = false;

  constructor(origin: URL) {
    this.tls = origin.protocol === 'https:';
    this.host = origin.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(origin.port) || (this.tls ? 443 : 80);
    this.hostHeader = origin.host;
  }

  /**
   * POST (or any method) with a body; resolves with the whole response, whatever its status. A
   * string body goes to the socket as a string: Node encodes it on the way out, with no Buffer to
   * allocate and collect for every request. `body` may be a function that makes it: a request then
   * holds no copy of its text while it waits for the answer, only what makes it again if the socket
   * turns out stale.
   */
  request(method: string, path: string, headers: Record<string, string>, body: Buffer | string | (() => string), signal?: AbortSignal): Promise<HttpResponse> {
    return this.send(() => this.message(method, path, headers, typeof body === 'function' ? body() : body), signal, true);
  }

  private message(method: string, path: string, headers: Record<string, string>, body: Buffer | string): Buffer | string {
    const length = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\ncontent-length: ${length}\r\n`;
    for (const k in headers) head += `${k}: ${headers[k]}\r\n`;
    return typeof body === 'string' ? `${head}\r\n${body}` : Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]);
  }

  /** Send the request `make` builds on an idle socket (or a new one) and wait for its answer. */
  send(make: () => Buffer | string, signal: AbortSignal | undefined, mayRetryStale: boolean): Promise<HttpResponse> {
    if (this.closed) return Promise.reject(new HttpConnectionError('client is closed'));
    if (signal?.aborted) return Promise.reject(new AbortError());
    const reused = this.idle.length > 0;
    const conn = reused ? this.idle.pop()! : this.open();
    conn.sock.ref();
    return new Promise<HttpResponse>((resolve, reject) => {
      const x = new Exchange(this, conn, reused && mayRetryStale ? make : undefined, signal, resolve, reject);
      conn.exchange = x;
      if (signal) x.listen(signal);
      conn.sock.write(make());
    });
  }

  /** An answer is complete: keep the socket for the next request, or close it. */
  done(conn: Conn, keepAlive: boolean): void {
    if (!keepAlive || this.closed) return void conn.sock.destroy();
    // An idle socket must not keep the process alive.
    conn.sock.unref();
    this.idle.push(conn);
  }

  private open(): Conn {
    const sock = this.tls ? tlsConnect({ host: this.host, port: this.port, servername: this.host }) : netConnect(this.port, this.host);
    sock.setNoDelay(true);
    const conn: Conn = { sock, exchange: undefined };
    this.conns.add(conn);
    // Bytes or an error on an idle socket only mean it is gone.
    sock.on('data', (chunk: Buffer) => (conn.exchange ? conn.exchange.onData(chunk) : sock.destroy()));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (conn.exchange) conn.exchange.finish(new HttpConnectionError(`${err.code ?? ''} ${err.message}`.trim(), err.code));
      else sock.destroy();
    });
    sock.once('close', () => {
      this.conns.delete(conn);
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
      conn.exchange?.onClose();
    });
    return conn;
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns) c.sock.destroy();
    this.idle.length = 0;
  }
}

export class AbortError extends CosmoError {
  constructor() {
    super('request aborted');
    this.name = 'AbortError';
  }
}
