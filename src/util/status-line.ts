import cliProgress from 'cli-progress';

/**
 * The last line of the terminal, while a progress bar holds it. A line written to stderr then ran
 * on from the end of the bar's text ("… ETA 12s12:00:01 warn …"), and the bar was drawn again on
 * the next line: `writeLine` clears the bar's line first, and the bar (drawn with cli-progress's
 * `forceRedraw`) comes back below the new line at its next tick.
 */
let holders = 0;

/** A bar starts drawing on stderr; call what this returns when it stops. */
function holdStatusLine(): () => void {
  holders++;
  let held = true;
  return () => {
    if (held) holders--;
    held = false;
  };
}

/** Write one line to stderr, above a bar that holds the terminal's last line. */
export function writeLine(line: string): void {
  process.stderr.write(`${holders > 0 && process.stderr.isTTY ? '\r\x1b[2K' : ''}${line}\n`);
}

/**
 * A cli-progress bar that, drawn on stderr, holds the terminal's last line from its start to its
 * stop, and is drawn again on every tick so that it comes back below a line written above it.
 */
export function statusBar(options: cliProgress.Options): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar({ ...options, forceRedraw: true }, cliProgress.Presets.shades_classic);
  if ((options.stream ?? process.stderr) === process.stderr) {
    let release = () => {};
    bar.on('start', () => (release = holdStatusLine()));
    bar.on('stop', () => release());
  }
  return bar;
}
