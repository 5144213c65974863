/** Terminal output: colour only on a terminal (and never with NO_COLOR), plain text otherwise. */
import { styleText } from 'node:util';
import type { Writable } from 'node:stream';
import { type Diagnostic, formatDiagnostic } from '../model/index.ts';

export interface Io {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
}

type Style = Parameters<typeof styleText>[0];

const colourless = new WeakSet<object>();

export function paint(io: Io['stdout'], style: Style, text: string): string {
  // styleText checks the stream: colour on a TTY, none when piped, NO_COLOR and FORCE_COLOR honoured.
  // A stream found without colour once stays so (the check costs more than a log line).
  if (colourless.has(io)) return text;
  const out = styleText(style, text, { stream: io, validateStream: true });
  if (out === text && text !== '') colourless.add(io);
  return out;
}

/** Replaces control characters (ANSI escapes, CR) so file content cannot rewrite the terminal. */
export function printable(text: string): string {
  return text.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** printable() for text shown on one line: a newline in a value cannot start a line of its own. */
export function printableLine(text: string): string {
  return printable(text).replace(/\n/g, '\\n');
}

/** A diagnostic as `file:line:col: error CODE message`, with the source line and a caret on a terminal. */
export function renderDiagnostic(
  io: Io['stdout'],
  file: string,
  d: Diagnostic,
  sourceText: string | undefined,
): string {
  const plain = printable(formatDiagnostic(file, d));
  if (!io.isTTY) return plain;
  const [head, ...rest] = plain.split('\n');
  const at = head!.indexOf(` ${d.severity} `);
  let out = `${paint(io, 'bold', head!.slice(0, at))} ${paint(io, ['red', 'bold'], d.severity)} ${paint(io, 'dim', d.code)}${head!.slice(at + d.severity.length + 2 + d.code.length)}`;
  const line = sourceText?.split('\n')[d.line - 1];
  if (line !== undefined && line.length < 300) {
    const shown = printable(line.replace(/\t/g, ' '));
    out += `\n  ${paint(io, 'dim', `${d.line} |`)} ${shown}\n  ${' '.repeat(String(d.line).length + 2)} ${' '.repeat(Math.max(0, d.col - 1))}${paint(io, 'red', '^')}`;
  }
  for (const r of rest) out += `\n${paint(io, 'cyan', r)}`;
  return out;
}
