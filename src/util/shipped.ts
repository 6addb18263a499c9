import { fileURLToPath } from 'node:url';

/** A folder of data shipped with cosmo: `templates/<name>` at the package root, beside both src/ and dist/. */
export const shippedDir = (name: string): string => fileURLToPath(new URL(`../../templates/${name}/`, import.meta.url));
