/**
 * The `data` of each server-sent event in a byte stream, as the upstream wrote it: the gateway
 * passes most events on unchanged, so it splits and reads them without re-serialising them.
 * Comments and events without data are skipped; several `data:` lines are joined with newlines.
 */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const bytes of body) {
    pending += decoder.decode(bytes, { stream: true });
    const { events, rest } = completeEvents(pending);
    pending = rest;
    // The events of one network read together: the caller writes them in one go.
    if (events.length) yield events;
  }
  pending += decoder.decode();
  const { events } = completeEvents(`${pending}\n\n`);
  if (events.length) yield events;
}

function completeEvents(text: string): { events: string[]; rest: string } {
  // CRLF line ends become LF; a CR at the very end waits for its LF in the next read.
  const normalised = text.includes('\r') ? text.replace(/\r\n/g, '\n') : text;
  const blocks = normalised.split('\n\n');
  const rest = blocks.pop()!;
  const events: string[] = [];
  for (const block of blocks) {
    const data = dataOf(block);
    if (data !== undefined) events.push(data);
  }
  return { events, rest };
}

function dataOf(block: string): string | undefined {
  let data: string | undefined;
  for (const line of block.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const value = line.slice(line[5] === ' ' ? 6 : 5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}
