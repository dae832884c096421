/** Prints a table of text columns; columns `first`..`last` are numbers, aligned right. */
export function printColumns(head: string[], rows: string[][], numbers: { first: number; last: number }) {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c >= numbers.first && c <= numbers.last ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ');
  console.log('');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row).trimEnd());
}

export const ms = (value: number) => `${value.toFixed(1)} ms`;
