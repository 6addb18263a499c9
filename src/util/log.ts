import { redact } from './redact.js';
import { writeLine } from './status-line.js';

/** A small structured logger: one line per event on stderr, `key=value` fields, levels filtered by COSMO_LOG. */

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return JSON.stringify(v);
}

export function createLogger(
  scope = 'cosmo',
  opts: { level?: Level; write?: (line: string) => void } = {},
): Logger {
  const level = opts.level ?? ((process.env.COSMO_LOG as Level | undefined) ?? 'info');
  const min = ORDER[level] ?? ORDER.info;
  const write = opts.write ?? writeLine;
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const time = new Date().toISOString().slice(11, 19);
    const kv = fields
      ? Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${formatValue(v)}`)
          .join(' ')
      : '';
    // Every line is redacted: a field may hold an error a server wrote, key and all.
    write(redact(`${time} ${lvl.padEnd(5)} [${scope}] ${msg}${kv ? ' ' + kv : ''}`));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (s) => createLogger(`${scope}/${s}`, { level, write }),
  };
}

/** A logger that drops everything, for library callers who want silence. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
