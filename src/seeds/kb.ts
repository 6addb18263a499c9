/**
 * Knowledge-base entries (Wikidata-like JSON) as seeds: an entity becomes a short outline to expand,
 * typed so that each entity type gets its own templates (a biography is not written like a place).
 */

export const ENTITY_TYPES = ['biography', 'concept', 'event', 'place', 'organisation'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export interface KbEntity {
  id?: string;
  label: string;
  description: string;
  type: EntityType;
  /** Property name → values, as readable strings. */
  claims: Record<string, string[]>;
}

/** Names of the Wikidata properties an outline needs, for entries in Wikidata's own JSON shape. */
const PROPERTY_NAMES: Record<string, string> = {
  P31: 'instance of', P279: 'subclass of', P361: 'part of', P527: 'has part', P17: 'country', P131: 'located in',
  P30: 'continent', P36: 'capital', P625: 'coordinates', P1082: 'population', P2046: 'area', P2044: 'elevation',
  P569: 'date of birth', P570: 'date of death', P19: 'place of birth', P20: 'place of death', P27: 'citizenship',
  P106: 'occupation', P101: 'field of work', P69: 'educated at', P166: 'award received', P800: 'notable work',
  P571: 'inception', P576: 'dissolved', P112: 'founded by', P159: 'headquarters', P452: 'industry', P488: 'chairperson',
  P580: 'start time', P582: 'end time', P585: 'point in time', P276: 'location', P710: 'participant', P1542: 'has effect',
  P828: 'has cause', P61: 'discoverer or inventor', P575: 'time of discovery', P2579: 'studied by', P138: 'named after',
};

/** English labels of the Wikidata items an outline most often names by id alone. */
const ITEM_LABELS: Record<string, string> = {
  Q5: 'human', Q515: 'city', Q6256: 'country', Q4022: 'river', Q8502: 'mountain', Q23442: 'island', Q43229: 'organization',
  Q4830453: 'business', Q3918: 'university', Q7278: 'political party', Q198: 'war', Q178561: 'battle', Q10931: 'revolution',
  Q1190554: 'occurrence', Q151885: 'concept', Q413: 'physics', Q2329: 'chemistry', Q420: 'biology', Q395: 'mathematics',
};

/** Wikidata classes (and words in English class labels) that decide an entity's type. */
const TYPE_CLASSES: [EntityType, RegExp, Set<string>][] = [
  ['biography', /\b(human|person|people)\b/i, new Set(['Q5'])],
  [
    'event',
    /\b(event|war|battle|revolution|election|treaty|siege|uprising|rebellion|disaster|earthquake|pandemic|epidemic|expedition|conference|games|championship|movement|period|era|dynasty|reign)\b/i,
    new Set(['Q1190554', 'Q198', 'Q178561', 'Q10931', 'Q40231', 'Q131569', 'Q3839081', 'Q1656682', 'Q11514315']),
  ],
  [
    'place',
    /\b(city|town|village|country|state|province|region|river|lake|mountain|island|continent|ocean|sea|capital|municipality|county|park|desert|valley|place|settlement)\b/i,
    new Set(['Q515', 'Q6256', 'Q532', 'Q486972', 'Q23442', 'Q4022', 'Q8502', 'Q5107', 'Q1549591', 'Q3624078', 'Q35657', 'Q82794']),
  ],
  [
    'organisation',
    /\b(organi[sz]ation|company|corporation|business|university|college|school|party|agency|institute|association|union|society|foundation|charity|non-governmental|ngo|club|band|enterprise|bank)\b/i,
    new Set(['Q43229', 'Q4830453', 'Q783794', 'Q3918', 'Q7278', 'Q163740', 'Q327333', 'Q31855', 'Q48204', 'Q2385804']),
  ],
];

function asStrings(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v.flatMap(asStrings);
  if (typeof v === 'object') return [wikidataValue(v)].filter((s): s is string => !!s);
  return [String(v)];
}

/** A readable value out of a Wikidata claim (statement, snak or datavalue). */
function wikidataValue(v: object): string | undefined {
  const o = v as Record<string, unknown>;
  if ('mainsnak' in o) return wikidataValue(o.mainsnak as object);
  if ('datavalue' in o) return o.datavalue ? wikidataValue(o.datavalue as object) : undefined;
  if ('label' in o && typeof o.label === 'string') return o.label;
  if ('value' in o) {
    const val = o.value as unknown;
    if (typeof val !== 'object' || val === null) return String(val);
    const x = val as Record<string, unknown>;
    if (typeof x.label === 'string') return x.label;
    if (typeof x.id === 'string') return ITEM_LABELS[x.id] ?? x.id;
    if (typeof x.time === 'string') return x.time.replace(/^\+/, '').replace(/T00:00:00Z$/, '').replace(/-00-00$|-00$/, '');
    if (x.amount !== undefined) return String(x.amount).replace(/^\+/, '') + (typeof x.unit === 'string' && x.unit !== '1' ? '' : '');
    if (typeof x.text === 'string') return x.text;
    if (x.latitude !== undefined) return `${x.latitude}, ${x.longitude}`;
  }
  return undefined;
}

/** The text of a Wikidata-style multilingual field ({en: {value}}) or a plain string. */
function langText(v: unknown, language: string): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const m = v as Record<string, { value?: string } | string>;
    const pick = m[language] ?? m.en ?? Object.values(m)[0];
    if (typeof pick === 'string') return pick;
    if (pick && typeof pick.value === 'string') return pick.value;
  }
  return '';
}

/** Normalise one KB row (simple `{label, description, type?, claims}` or Wikidata entity JSON); throws a reason if unusable. */
export function parseKbEntry(row: Record<string, unknown>, language = 'en'): KbEntity {
  const label = langText(row.label ?? row.labels, language).trim();
  if (!label) throw new Error('a KB entry needs a "label" (or Wikidata "labels")');
  const description = langText(row.description ?? row.descriptions, language).trim();
  const claims: Record<string, string[]> = {};
  const raw = row.claims ?? row.statements ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('"claims" must be an object of property → value(s)');
  for (const [prop, value] of Object.entries(raw)) {
    const name = PROPERTY_NAMES[prop] ?? prop.replaceAll('_', ' ');
    const values = asStrings(value);
    if (values.length) claims[name] = [...(claims[name] ?? []), ...values];
  }
  const type = row.type === undefined ? entityType(claims, description) : String(row.type);
  if (!(ENTITY_TYPES as readonly string[]).includes(type))
    throw new Error(`unknown entity type "${type}"; use one of ${ENTITY_TYPES.join(', ')}`);
  return { id: typeof row.id === 'string' ? row.id : undefined, label, description, type: type as EntityType, claims };
}

/** Decide the entity type from "instance of" claims, then from the description. */
export function entityType(claims: Record<string, string[]>, description: string): EntityType {
  const classes = claims['instance of'] ?? [];
  for (const [type, words, ids] of TYPE_CLASSES) if (classes.some((c) => ids.has(c) || words.test(c))) return type;
  // A class that names none of the types above ("physical quantity", "biological process") is a concept.
  if (claims['date of birth'] || claims['occupation']) return 'biography';
  for (const [type, words] of TYPE_CLASSES) if (words.test(description)) return type;
  return 'concept';
}

/** The entity as an outline a model can expand: one line per claim, the way the KB flow feeds prompts. */
export function kbOutline(e: KbEntity): string {
  const lines = [`${e.label}${e.description ? `: ${e.description}` : ''}`];
  for (const [prop, values] of Object.entries(e.claims)) lines.push(`- ${prop}: ${values.join('; ')}`);
  return lines.join('\n');
}
