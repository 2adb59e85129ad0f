/** Chunk indices as compact ranges (`1-40,43`): how the state records a multipart upload's reported chunks. */
export function parseRanges(text: string): Set<number> {
  const indices = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') continue;
    const [from, to = from] = part.split('-').map(Number);
    if (from === undefined || to === undefined || !Number.isInteger(from) || !Number.isInteger(to)) continue;
    for (let i = from; i <= to; i++) indices.add(i);
  }
  return indices;
}

export function formatRanges(indices: Iterable<number>): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
