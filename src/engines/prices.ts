/**
 * What tokens cost, in US dollars per million, for the run's live cost, its projection, the dry
 * run's estimate and `generate.max_cost`.
 *
 * The table holds hosted models whose list prices were published (OpenAI's standard tier, as of
 * 2025); prices change, so `engines[].price` overrides it, and a model not in it costs nothing
 * unless given a price (a self-hosted vLLM, TGI or SGLang server is paid by the hour, not the token).
 */
export interface Price {
  /** Dollars per million prompt tokens. */
  input: number;
  /** Dollars per million completion tokens. */
  output: number;
}

export const KNOWN_PRICES: Readonly<Record<string, Price>> = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
};

/**
 * The price of `model`: the configured one, else the table's for the model or for the name it is a
 * dated snapshot of (`gpt-4o-mini-2024-07-18` is `gpt-4o-mini`), else none. Through the Batch API
 * (`batch`), the table's price is halved, as the API discounts it.
 */
export function priceOf(model: string, configured?: Price, batch = false): Price | undefined {
  if (configured) return configured;
  const snapshot = /^(.*)-\d{4}-\d{2}-\d{2}$/.exec(model);
  const list = KNOWN_PRICES[model] ?? (snapshot ? KNOWN_PRICES[snapshot[1]!] : undefined);
  return list && batch ? { input: list.input / 2, output: list.output / 2 } : list;
}

/** The item with the highest price (input + output per million), and that price; none when nothing is priced. */
export function dearest<T>(items: readonly T[], priceOfItem: (item: T) => Price | undefined): { item: T; price: Price } | undefined {
  let best: { item: T; price: Price } | undefined;
  for (const item of items) {
    const price = priceOfItem(item);
    if (price && (!best || price.input + price.output > best.price.input + best.price.output)) best = { item, price };
  }
  return best;
}

/** Dollars for `usage` at `price` (none: free). */
export function costOf(usage: { prompt_tokens: number; completion_tokens: number }, price: Price | undefined): number {
  if (!price) return 0;
  return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6;
}

/** Dollars as a person reads them: cents below $100, whole dollars above. */
export const formatUsd = (usd: number): string => (usd < 100 ? `$${usd.toFixed(2)}` : `$${Math.round(usd).toLocaleString('en-US')}`);
