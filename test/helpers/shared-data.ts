import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The shared real data (seeds, benchmarks, tokenizers): $COSMO_SHARED_DATA or ../shared/data beside the project. */
export const SHARED_DATA = resolve(process.env.COSMO_SHARED_DATA ?? resolve(import.meta.dirname, '../../../shared/data'));

export const hasSharedData = existsSync(SHARED_DATA);

export const sharedPath = (...parts: string[]) => resolve(SHARED_DATA, ...parts);
