/**
 * The import structure, as a test: layers run one way (records/util → config/io → engines/exec →
 * stages → pipeline → cli), no stage imports another, and no file imports itself in a circle.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

/** Each folder's floor; a file may import only from its own floor or below (stages: not from each other). */
const FLOORS: Record<string, number> = {
  records: 1,
  util: 1,
  config: 2,
  io: 2,
  engines: 3,
  embed: 3,
  exec: 3,
  seeds: 4,
  cluster: 4,
  prompts: 4,
  knowledge: 4,
  generate: 4,
  filter: 4,
  dedup: 4,
  decontaminate: 4,
  export: 4,
  mix: 4,
  tokenize: 4,
  serve: 4,
  push: 4,
  pipeline: 5,
  report: 5,
  view: 5,
  pilot: 5,
  cli: 6,
  'index.ts': 7,
};
const STAGE_FLOOR = 4;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/**
 * The project files a source file imports (static, dynamic and re-exports), as absolute .ts paths;
 * with `loadedAtStart`, only those loaded with it: no dynamic import, no `import type`.
 */
function importsOf(file: string, loadedAtStart = false): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:import|export)\s([^'"]*?)from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)]
    .filter((m) => !loadedAtStart || (m[2] !== undefined && !/^(?:type\s|\{\s*type\s[^,]*\}\s*$)/.test(m[1]!.trim())))
    .map((m) => m[2] ?? m[3]!);
  return specs.map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

/** Every project file loaded when `entry` starts, before any dynamic import. */
function loadedAtStart(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const dep of importsOf(file, true)) visit(dep);
  };
  visit(entry);
  return seen;
}

const folderOf = (file: string) => relative(SRC, file).split('/')[0]!;

type Graph = Map<string, string[]>;

/** Imports that run up a floor, or from one stage folder into another. */
function layerViolations(graph: Graph): string[] {
  const wrong: string[] = [];
  for (const [file, deps] of graph) {
    const from = folderOf(file);
    for (const dep of deps) {
      const to = folderOf(dep);
      if (from === to) continue;
      const up = FLOORS[to]! > FLOORS[from]!;
      const sideways = FLOORS[to] === STAGE_FLOOR && FLOORS[from] === STAGE_FLOOR;
      if (up || sideways) wrong.push(`${relative(SRC, file)} -> ${relative(SRC, dep)}`);
    }
  }
  return wrong;
}

/** Import cycles between files, each as the path around it. */
function cycles(graph: Graph): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const found: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      found.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  return found;
}

const graph: Graph = new Map(files(SRC).map((f) => [f, importsOf(f)]));

describe('import structure', () => {
  it('knows the floor of every folder of src/', () => {
    const unknown = [...new Set([...graph.keys()].map(folderOf))].filter((f) => FLOORS[f] === undefined);
    expect(unknown).toEqual([]);
  });

  it('has no import from a lower floor to a higher one, and none between stage folders', () => {
    expect(layerViolations(graph)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('starts the CLI without the stages: each command loads what it runs, and the stage registry only for a stage command or the help', () => {
    const loaded = [...loadedAtStart(join(SRC, 'cli/main.ts'))].map((f) => relative(SRC, f));
    expect(loaded).toContain('cli/contamination.ts');
    expect(loaded.filter((f) => f === 'pipeline/registry.ts' || (f.endsWith('/stage.ts') && f !== 'exec/stage.ts'))).toEqual([]);
  });

  it('finds an import that runs up, one between stages, and a cycle (the checks can fail)', () => {
    const at = (p: string) => join(SRC, p);
    const bad: Graph = new Map([
      [at('io/a.ts'), [at('generate/stage.ts')]],
      [at('filter/stage.ts'), [at('generate/config.ts')]],
      [at('util/x.ts'), [at('util/y.ts')]],
      [at('util/y.ts'), [at('util/x.ts')]],
    ]);
    expect(layerViolations(bad)).toEqual(['io/a.ts -> generate/stage.ts', 'filter/stage.ts -> generate/config.ts']);
    expect(cycles(bad)).toEqual(['util/x.ts -> util/y.ts -> util/x.ts']);
  });
});
