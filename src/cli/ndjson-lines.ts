/**
 * Splits a byte stream into NDJSON lines, numbered from 1, with the bytes consumed so far (for a
 * progress bar over a file of known size). Blank lines are counted but not yielded; a final line
 * without a newline is yielded. `\r\n` endings are accepted.
 */
import type { Readable } from 'node:stream';

export interface NdjsonLine {
  /** 1-based line number in the input. */
  no: number;
  text: string;
  /** Bytes of input consumed up to and including this line. */
  bytes: number;
}

export async function* ndjsonLines(input: Readable): AsyncGenerator<NdjsonLine> {
  let carry: Buffer | null = null;
  let no = 0;
  let consumed = 0;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      no++;
      consumed += nl + 1 - start;
      const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (end > start) yield { no, text: buf.toString('utf8', start, end), bytes: consumed };
      start = nl + 1;
    }
    carry = start < buf.length ? buf.subarray(start) : null;
    buf = Buffer.alloc(0);
  }
  if (carry && carry.length > 0) {
    no++;
    consumed += carry.length;
    const text = carry.toString('utf8').replace(/\r$/, '');
    if (text.length > 0) yield { no, text, bytes: consumed };
  }
}
