import type { Command } from 'commander';
import { createLogger } from '../util/log.js';
import { CosmoError } from '../util/errors.js';

/** `cosmo view OUT_DIR`: browse and review the dataset in a local web page until Ctrl-C. */
export function registerView(program: Command): void {
  program
    .command('view')
    .description('browse the dataset in a local web page (filters, search, sort by length) and flag samples for the next filter run')
    .argument('<dir>', 'a corpus output folder')
    .option('--port <port>', 'port (0 picks a free one)', '8300')
    .option('--host <host>', 'address to listen on; anything but 127.0.0.1 shows the data to your network', '127.0.0.1')
    .option('--reviewer <name>', 'who the flags are from (default: your user name)')
    .action(async (dir: string, o: { port: string; host: string; reviewer?: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CosmoError(`--port must be a port number, not "${o.port}"`);
      const { startViewer } = await import('../view/server.js');
      const viewer = await startViewer({ dir, port, host: o.host, reviewer: o.reviewer, log: createLogger('view') });
      process.stdout.write(`cosmo view: ${viewer.rows.toLocaleString('en-US')} samples at ${viewer.url}  (Ctrl-C stops)\n`);
      // Ctrl-C, SIGTERM or a closed terminal stop the server; there is nothing to resume.
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve());
      });
      await viewer.close();
    });
}
