/**
 * What reaches the terminal. Strings from models and data (producer names, node names, file names, class
 * names) are printed in many places; instead of escaping each, every string written to stdout/stderr while
 * the CLI runs passes through `safeText`, which makes control characters visible (`\x1b`) so a model cannot
 * retitle or clear the terminal, move the cursor or hide text. The progress line is the one deliberate use
 * of control sequences: it goes through `liveLine`/`clearLine`, which write only to a terminal.
 */

// C0 controls except tab and newline, DEL, C1 controls, and the bidirectional overrides/isolates
// (text that displays in another order than it reads).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `s` with every control character shown as an escape (`\x1b`, `\u202e`). */
export function safeText(s: string): string {
  return s.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

type Write = typeof process.stdout.write;
let rawStderr: Write | undefined;

/** Routes every string written to stdout and stderr through `safeText` (bytes pass as they are); returns the undo. */
export function guardOutput(): () => void {
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((s) => s.write);
  streams.forEach((s, i) => {
    const original = originals[i]!;
    s.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      return (original as (...a: unknown[]) => boolean).call(this, typeof chunk === 'string' ? safeText(chunk) : chunk, ...rest);
    } as Write;
  });
  rawStderr = originals[1];
  return () => {
    streams.forEach((s, i) => (s.write = originals[i]!));
    rawStderr = undefined;
  };
}

/** Whether stderr is a terminal (progress lines are drawn only there). */
export const stderrIsTerminal = (): boolean => process.stderr.isTTY === true;

/** Redraws the progress line in place; nothing when stderr is not a terminal. */
export function liveLine(text: string): void {
  if (!stderrIsTerminal()) return;
  writeRaw(`\r\x1b[2K${safeText(text)}`);
}

/** Clears the progress line; nothing when stderr is not a terminal (no `\e[2K` in logs). */
export function clearLine(): void {
  if (stderrIsTerminal()) writeRaw('\r\x1b[2K');
}

function writeRaw(s: string): void {
  if (rawStderr) rawStderr.call(process.stderr, s);
  else process.stderr.write(s);
}
