import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { languageSchema } from '../../src/filter/config.js';
import type { FilteredSample, RejectedSample } from '../../src/filter/filter.js';
import { languageIdentifier, languageVerdict } from '../../src/filter/language.js';
import { collect, readAll, writeShard } from '../../src/io/shards.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { makeSample } from '../helpers/sample.js';

/** A few paragraphs per language, on the subjects a corpus is made of (written for this test). */
const TEXTS: Record<string, string> = {
  en: `Photosynthesis is the process by which green plants turn light into chemical energy. Inside the leaves, chlorophyll absorbs sunlight and uses it to split water molecules.
The oxygen we breathe is released as a by-product, while the carbon dioxide taken from the air becomes sugar that feeds the plant and, through food chains, almost every animal on Earth.`,
  fr: `La photosynthèse est le processus par lequel les plantes vertes transforment la lumière en énergie chimique. Dans les feuilles, la chlorophylle absorbe la lumière du soleil et s'en sert pour décomposer les molécules d'eau.
L'oxygène que nous respirons est libéré comme sous-produit, tandis que le dioxyde de carbone prélevé dans l'air devient du sucre qui nourrit la plante.`,
  de: `Die Photosynthese ist der Vorgang, bei dem grüne Pflanzen Licht in chemische Energie umwandeln. In den Blättern nimmt das Chlorophyll das Sonnenlicht auf und spaltet damit Wassermoleküle.
Der Sauerstoff, den wir atmen, entsteht dabei als Nebenprodukt, während das Kohlendioxid aus der Luft zu Zucker wird, der die Pflanze ernährt.`,
  es: `La fotosíntesis es el proceso mediante el cual las plantas verdes convierten la luz en energía química. En las hojas, la clorofila absorbe la luz del sol y la utiliza para separar las moléculas de agua.
El oxígeno que respiramos se libera como subproducto, mientras que el dióxido de carbono tomado del aire se convierte en azúcar que alimenta a la planta.`,
  it: `La fotosintesi è il processo con cui le piante verdi trasformano la luce in energia chimica. Nelle foglie, la clorofilla assorbe la luce del sole e la usa per scindere le molecole d'acqua.
L'ossigeno che respiriamo viene liberato come sottoprodotto, mentre l'anidride carbonica presa dall'aria diventa zucchero che nutre la pianta.`,
  pt: `A fotossíntese é o processo pelo qual as plantas verdes transformam a luz em energia química. Nas folhas, a clorofila absorve a luz do sol e usa-a para separar as moléculas de água.
O oxigénio que respiramos é libertado como subproduto, enquanto o dióxido de carbono retirado do ar se transforma em açúcar que alimenta a planta.`,
  nl: `Fotosynthese is het proces waarbij groene planten licht omzetten in chemische energie. In de bladeren neemt bladgroen het zonlicht op en gebruikt het om watermoleculen te splitsen.
De zuurstof die wij inademen komt daarbij vrij als bijproduct, terwijl de koolstofdioxide uit de lucht wordt omgezet in suiker die de plant voedt.`,
  ru: `Фотосинтез — это процесс, при котором зелёные растения превращают свет в химическую энергию. В листьях хлорофилл поглощает солнечный свет и использует его для расщепления молекул воды.
Кислород, которым мы дышим, выделяется как побочный продукт, а углекислый газ из воздуха превращается в сахар, питающий растение.`,
  ja: `光合成とは、緑色の植物が光を化学エネルギーに変える仕組みです。葉の中では、葉緑素が太陽の光を吸収し、その力で水の分子を分解します。
私たちが吸う酸素はその副産物として放出され、空気中の二酸化炭素は植物を養う糖に変わります。`,
  zh: `光合作用是绿色植物把光能转化为化学能的过程。在叶片中，叶绿素吸收阳光，并利用它把水分子分解。
我们呼吸的氧气作为副产物被释放出来，而从空气中吸收的二氧化碳则变成养活植物的糖。`,
};

describe("fastText's lid.176 on real multilingual text", () => {
  it('names the language of each text with high confidence', async () => {
    const lid = await languageIdentifier();
    for (const [language, text] of Object.entries(TEXTS)) {
      const found = await lid.identify(text);
      expect(found.language, text.slice(0, 40)).toBe(language);
      expect(found.score).toBeGreaterThan(0.65);
    }
  });

  it('drops a sample written in another language than asked, flags it when told to, and keeps uncertain ones', async () => {
    const lid = await languageIdentifier();
    const cfg = languageSchema.parse({});
    const asked = makeSample(TEXTS.en!, { language: 'fr' });
    expect(languageVerdict(asked, await lid.identify(asked.text), cfg)).toMatchObject({
      keep: false,
      reason: 'language',
      kind: 'en',
      detail: expect.stringMatching(/^written in en \(fastText 0\.\d\d\), asked for fr$/),
    });
    const flagged = languageVerdict(asked, await lid.identify(asked.text), languageSchema.parse({ action: 'flag' }));
    expect(flagged).toMatchObject({ keep: true, sample: { language_detected: 'en', language_mismatch: true } });
    const right = languageVerdict(makeSample(TEXTS.fr!, { language: 'fr' }), await lid.identify(TEXTS.fr!), cfg);
    expect(right.keep && right.sample.language_mismatch).toBeUndefined();
    // A confident detection below the threshold keeps the sample.
    const strict = languageSchema.parse({ min_confidence: 1 });
    expect(languageVerdict(asked, await lid.identify(asked.text), strict).keep).toBe(true);
  });
});

describe('the filter stage checks each sample against its target language', () => {
  it('drops wrong-language samples with their reason and counts the languages as generated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-lang-'));
    // Each text asked for in its own language, then the English text asked for in French and in German.
    const samples = [
      ...Object.entries(TEXTS).map(([language, text]) => makeSample(text, { language, token_length: 200 })),
      makeSample(TEXTS.en!, { language: 'fr', token_length: 200 }),
      makeSample(TEXTS.en!, { language: 'de', token_length: 200 }),
    ];
    await writeShard(join(dir, 'generate', '0.jsonl'), samples);
    const corpus = parseConfig({ seeds: [{ kind: 'web', path: 'x.jsonl' }], output: dir, filter: { min_tokens: 0 } }, { file: 'corpus.yaml', baseDir: dir });
    const [result] = await runPipeline(corpus, { only: ['filter'], log: silentLogger });
    const kept = await collect(readAll<FilteredSample>(join(dir, 'filter')));
    const rejects = await collect(readAll<RejectedSample>(join(dir, 'filter', 'rejects')));
    expect(kept.map((s) => s.language).sort()).toEqual(Object.keys(TEXTS).sort());
    for (const s of kept) expect(s.language_detected).toBe(s.language);
    expect(rejects.map((r) => [r.reject_reason, r.language])).toEqual([
      ['language', 'fr'],
      ['language', 'de'],
    ]);
    const c = result!.stats.counters;
    expect(c['dropped.language']).toBe(2);
    expect(c['language.en']).toBe(2);
    const summary = JSON.parse(readFileSync(join(dir, 'filter', 'summary.json'), 'utf8'));
    expect(summary.languages_detected).toEqual({ ...Object.fromEntries(Object.keys(TEXTS).map((l) => [l, 1])), en: 3 });
  });
});
