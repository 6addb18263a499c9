/**
 * Cosmopedia parity, pinned on hand-worked fixtures. The expected scores were computed with Python's
 * difflib and the reference script's tokenize/ratio logic on these exact strings:
 *   ratio = len(" ".join("".join(parts).split())) / len(bench_text), parts = blocks longer than 5.
 */
import { describe, expect, it } from 'vitest';
import type { BenchmarkItem } from '../../src/decontaminate/benchmarks.js';
import { Decontaminator, type DecontamMode } from '../../src/decontaminate/decontaminator.js';

const items = (...texts: string[]): BenchmarkItem[] => texts.map((text, i) => ({ benchmark: 'fx', id: `fx/${i}`, text }));
const modes = (list: BenchmarkItem[], ngram: number) =>
  Object.fromEntries((['cosmopedia', 'drop'] as DecontamMode[]).map((mode) => [mode, new Decontaminator(list, { ngram, mode })])) as Record<
    'cosmopedia' | 'drop',
    Decontaminator
  >;

describe('cosmopedia mode (reference algorithm)', () => {
  it('lets a later item overwrite an earlier one on shared n-grams, and misses the earlier item', () => {
    // Item 1 contains item 0, so every 3-gram of item 0 maps to item 1 in the reference's dict.
    const dc = modes(
      items(
        'The quick brown fox jumps over the lazy dog.',
        'The quick brown fox jumps over the lazy dog, and then it runs far away into the deep dark forest.',
      ),
      3,
    );
    const sample = 'Yesterday I saw that the quick brown fox jumps over the lazy dog in my garden.';
    const ref = dc.cosmopedia.check(sample);
    // Python: the only candidate is item 1, ratio 0.452632 <= 0.5: kept.
    expect(ref.candidates).toBe(1);
    expect(ref.contaminated).toBe(false);
    const all = dc.drop.check(sample);
    expect(all.candidates).toBe(2);
    expect(all.matches.map((m) => [m.item_id, m.score])).toEqual([['fx/0', 1]]);
  });

  it('checks only the first n-gram hit (in text order)', () => {
    const dc = modes(
      items(
        'Photosynthesis converts light energy into chemical energy stored in glucose.',
        'Which planet in our solar system has the largest number of known moons orbiting it?',
      ),
      3,
    );
    const sample =
      'Plants use light energy into many things. Quiz time: which planet in our solar system has the largest number of known moons orbiting it? Think about it.';
    // Python: ratios 0.226667 (item 0, hit first in the text) and 1.0 (item 1).
    const ref = dc.cosmopedia.check(sample);
    expect(ref.candidates).toBe(1);
    expect(ref.contaminated).toBe(false);
    const all = dc.drop.check(sample);
    expect(all.contaminated).toBe(true);
    expect(all.matches.map((m) => m.item_id)).toEqual(['fx/1']);
    expect(all.matches[0]!.matched).toBe('which planet in our solar system has the largest number of known moons orbiting it?');
  });

  it('normalises accents and case before matching', () => {
    const dc = modes(items('Le café crème est servi très chaud à Montréal chaque matin.'), 3);
    const v = dc.cosmopedia.check('Every tourist learns that LE CAFE CREME est servi tres chaud a montreal, chaque matin!');
    expect(v.matches.map((m) => [m.item_id, m.score])).toEqual([['fx/0', 1]]); // Python: 1.0
  });

  it('removes only above the threshold, not at it', () => {
    const dc = modes(items('abcdefg hijklm'), 1);
    const v = dc.cosmopedia.check('xx abcdefg yy'); // Python: exactly 0.5
    expect(v.candidates).toBe(1);
    expect(v.contaminated).toBe(false);
    expect(new Decontaminator(items('abcdefg hijklm'), { ngram: 1, mode: 'cosmopedia', threshold: 0.49 }).check('xx abcdefg yy').contaminated).toBe(true);
  });

  it('never indexes items shorter than n words', () => {
    const dc = new Decontaminator(items('too short to index', 'this one has exactly ten words in it to index'), { ngram: 10 });
    expect(dc.summary).toMatchObject({ items: 2, indexed: 1, benchmarks: { fx: { items: 2, indexed: 1 } } });
    expect(dc.check('it says: too short to index. this one has exactly ten words in it to index!').matches.map((m) => m.item_id)).toEqual(['fx/1']);
  });
});

describe('default mode extras', () => {
  it('scores a long question alone, so paraphrased answers around a verbatim question are caught', () => {
    const prompt =
      'A bakery sells loaves for three dollars each and muffins for two dollars each. On Monday it sold forty loaves and twice as many muffins. How much money did it make?';
    const item: BenchmarkItem = {
      benchmark: 'gsm8k',
      id: 'gsm8k/0',
      prompt,
      text:
        `${prompt}\nFirst find how many muffins were sold: twice forty is 40 * 2 = 80 muffins. Next, the loaves earned 40 * 3 = 120 dollars ` +
        `and the muffins earned 80 * 2 = 160 dollars. Finally, adding both amounts, the bakery made 120 + 160 = 280 dollars on Monday.\n#### 280`,
    };
    const sample = `Here is a practice problem. ${prompt} To solve it, first find the income from bread, which is one hundred twenty, then the muffin income, one hundred sixty; adding gives two hundred eighty.`;
    // Python: ratio 0.492268 against the whole item, 1.0 against the question alone.
    const ref = new Decontaminator([item], { mode: 'cosmopedia' }).check(sample);
    expect(ref.candidates).toBe(1);
    expect(ref.contaminated).toBe(false);
    const v = new Decontaminator([item]).check(sample);
    expect(v.matches.map((m) => [m.item_id, m.part])).toEqual([['gsm8k/0', 'question']]);
    expect(new Decontaminator([item], { questionMinWords: 0 }).check(sample).contaminated).toBe(false);
  });

  it('catches a question leaked with its gold answer and without the wrong options, but not the answer alone', () => {
    const prompt = 'Marginal cost always intersects average variable cost at';
    const item: BenchmarkItem = {
      benchmark: 'mmlu',
      id: 'mmlu/micro/105',
      prompt,
      answer: 'the minimum of average variable cost',
      text: `${prompt}\nthe profit-maximizing quantity\nthe minimum of marginal cost\nthe maximum of average variable cost\nthe minimum of average variable cost`,
    };
    const leak = `Review. ${prompt}\nAnswer: the minimum of average variable cost. Now the long run, where firms enter and leave the market freely.`;
    const v = new Decontaminator([item]).check(leak);
    expect(v.matches.map((m) => [m.item_id, m.part])).toEqual([['mmlu/micro/105', 'question_answer']]);
    expect(v.matches[0]!.matched).toContain('Marginal cost always');
    // Question and answer are a third of the item: the whole-item score alone misses the leak.
    expect(new Decontaminator([item], { partThreshold: 1 }).check(leak).contaminated).toBe(false);
    // Prose that states the answer, or half the question, is not a leak.
    expect(new Decontaminator([item]).check('In the short run, marginal cost crosses average variable cost at the minimum of average variable cost, as every textbook shows.').contaminated).toBe(false);
  });

  it('catches an item whose options and sentences come in another order', () => {
    const prompt = 'Which of the following causes the supply curve of paper to shift to the left?';
    const options = [
      'Paper producers expect lower paper prices in the months ahead.',
      'The price of pencils, a complement to paper, increases.',
      'Improvements in the technology used to produce paper.',
      'Environmental concerns reduce the yearly amount of timber that can be harvested.',
    ];
    const item: BenchmarkItem = { benchmark: 'mmlu', id: 'mmlu/micro/210', prompt, answer: options[3], text: [prompt, ...options].join('\n') };
    const shuffled = [options[3], options[1], prompt, options[2], options[0]].join(' '); // in order: 0.244 of the item
    const sample = `Markets respond to many forces. ${shuffled} Think about each before you answer.`;
    const v = new Decontaminator([item]).check(sample);
    expect(v.matches.map((m) => [m.item_id, m.part])).toEqual([['mmlu/micro/210', 'reordered']]);
    // In order, matching blocks find only part of it.
    expect(new Decontaminator([item], { partThreshold: 1 }).check(sample).contaminated).toBe(false);
  });

  it('finds items with short questions, with option labels and words between the options', () => {
    const item: BenchmarkItem = {
      benchmark: 'arc',
      id: 'arc/0',
      prompt: 'Which layer of Earth is the thinnest?', // 7 words: indexed by 7-grams
      text: 'Which layer of Earth is the thinnest?\ninner core\ncrust\nouter core\nmantle',
    };
    const sample = 'Quiz. WHICH LAYER OF EARTH IS THE THINNEST? Is it (a) inner core, (b) crust, (c) outer core or (d) mantle? It is the crust.';
    // The reference's 10-grams all span question and options, which the sample separates.
    expect(new Decontaminator([item], { mode: 'cosmopedia' }).check(sample).candidates).toBe(0);
    const v = new Decontaminator([item]).check(sample);
    expect(v.matches.map((m) => m.item_id)).toEqual(['arc/0']);
    expect(new Decontaminator([item], { minNgram: 10 }).check(sample).contaminated).toBe(false);
    expect(new Decontaminator([item]).check('Which layer of Earth do we live on? The crust, above the mantle.').contaminated).toBe(false);
  });

  it('reports every contaminating item of a sample, not only the best', () => {
    const list = items(
      'Which gas do plants absorb from the air in order to carry out photosynthesis during the day?',
      'What is the name of the process by which water vapour turns back into liquid water droplets in clouds?',
    );
    const v = new Decontaminator(list).check(`Two questions. ${list[0]!.text} Next: ${list[1]!.text} Good luck.`);
    expect(v.matches.map((m) => m.item_id).sort()).toEqual(['fx/0', 'fx/1']);
    expect(new Decontaminator(list, { mode: 'cosmopedia' }).check(`Two questions. ${list[0]!.text} Next: ${list[1]!.text}`).matches).toHaveLength(1);
  });
});

describe('cut mode', () => {
  const item = items('Which gas do plants absorb from the air in order to carry out photosynthesis during the day? Carbon dioxide');
  const before = 'Plants are living things that make their own food. '.repeat(8);
  const after = 'Roots take up water and minerals from the soil around them every day. '.repeat(8);

  it('cuts the contaminated span and keeps the rest', () => {
    const dc = new Decontaminator(item, { mode: 'cut' });
    const text = `${before}\nQuiz: WHICH GAS do plants absorb from the air, in order to carry out photosynthesis during the day? (carbon dioxide).\n${after}`;
    const r = dc.cut(text);
    expect(r.cuts.map((c) => c.item_id)).toEqual(['fx/0']);
    expect(r.cuts[0]!.matched).toBe('WHICH GAS do plants absorb from the air, in order to carry out photosynthesis during the day? (carbon dioxide).');
    expect(r.text).toBe(`${before}\nQuiz:\n\n${after.trim()}`);
    expect(dc.check(r.text!).contaminated).toBe(false);
  });

  it('drops the sample when too little is left after the cut', () => {
    const r = new Decontaminator(item, { mode: 'cut' }).cut(`Quiz: ${item[0]!.text}. Think!`);
    expect(r.text).toBeUndefined();
    expect(r.dropReason).toBe('too_short_after_cut');
  });

  it('leaves clean text untouched', () => {
    const r = new Decontaminator(item, { mode: 'cut' }).cut(before + after);
    expect(r).toMatchObject({ text: before + after, cuts: [] });
  });
});
