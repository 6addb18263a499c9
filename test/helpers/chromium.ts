import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Debian's Chromium, never a browser a tool downloads itself. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium as DEVELOPERS.md launches it, or undefined (with a warning naming `what`) when it is not installed. */
export async function launchChromium(what: string): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    console.warn(`skipped ${what} in a browser: ${CHROMIUM} is missing (apt-get install chromium)`);
    return undefined;
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
