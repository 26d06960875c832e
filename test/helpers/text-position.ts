/**
 * 1-based line and column of the first occurrence of `needle` in `text`, as V8 prints positions in a stack trace
 * (the stack tool's tests: test/unit/stack-map.test.ts, test/infra/container.test.ts).
 */
export function positionOf(text: string, needle: string): { line: number; column: number } {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`${needle} not found`);
  const before = text.slice(0, at).split("\n");
  return { line: before.length, column: (before[before.length - 1] as string).length + 1 };
}
