import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { collectReport, datasetFiles, type ReportData } from './collect.js';
import { reportHtml } from './html.js';

/**
 * `cosmo report` as a library: report.html (self-contained) and report.json (every number in it)
 * for a corpus output folder (into its `report/`) or for dataset files (into `out`).
 */
export async function writeReport(paths: string[], opts: { out?: string; title?: string } = {}): Promise<{ data: ReportData; html: string; json: string }> {
  const { outDir } = datasetFiles(paths);
  const dir = opts.out ?? (outDir ? join(outDir, 'report') : 'report');
  const data = await collectReport(paths, { title: opts.title });
  await mkdir(dir, { recursive: true });
  const html = join(dir, 'report.html');
  const json = join(dir, 'report.json');
  await writeFileAtomic(html, reportHtml(data));
  await writeJsonAtomic(json, data);
  return { data, html, json };
}
