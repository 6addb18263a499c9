import { afterEach } from 'vitest';
import { startMockOpenAI, type MockOptions, type MockServer } from './mock-openai.js';

/** A `mock()` that starts a mock OpenAI server, every one of which is closed after each test. */
export function mockServers(): (opts?: MockOptions) => Promise<MockServer> {
  const servers: MockServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (opts = {}) => {
    const s = await startMockOpenAI(opts);
    servers.push(s);
    return s;
  };
}
