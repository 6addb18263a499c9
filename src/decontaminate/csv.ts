import { InputError } from '../util/errors.js';

// One field and what ends it: a quoted field (doubled quotes inside) or a bare one.
const FIELD = /(?:"((?:[^"]|"")*)"|([^,"\r\n]*))(,|\r?\n|$)/y;

/**
 * RFC 4180 rows (quoted fields, doubled quotes, line breaks inside quotes, CRLF), each with the
 * 1-based line it starts on, for errors that point at the right place.
 */
export function parseCsv(text: string, file: string): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let line = 1;
  let rowLine = 1;
  FIELD.lastIndex = 0;
  while (FIELD.lastIndex < text.length) {
    const at = FIELD.lastIndex;
    const m = FIELD.exec(text);
    if (!m || m[0] === '') {
      const quoteOpen = text[at] === '"' && !/"(,|\r?\n|$)/.test(text.slice(at + 1));
      throw new InputError(file, line, quoteOpen ? 'unterminated quoted field' : 'stray quote inside an unquoted field');
    }
    const quoted = m[1];
    if (quoted !== undefined) {
      fields.push(quoted.replaceAll('""', '"'));
      for (let i = quoted.indexOf('\n'); i !== -1; i = quoted.indexOf('\n', i + 1)) line++;
    } else fields.push(m[2]!);
    const end = m[3]!;
    if (end !== ',') {
      if (!(fields.length === 1 && fields[0] === '')) rows.push({ line: rowLine, fields });
      fields = [];
      if (end === '') break;
      line++;
      rowLine = line;
    }
  }
  if (fields.length > 0) rows.push({ line: rowLine, fields: [...fields, ''] }); // text ended right after a comma
  return rows;
}
