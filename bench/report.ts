import { existsSync, readFileSync, writeFileSync } from "node:fs";

const FILE = "docs/benchmarks.md";

/** Replaces the text between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in docs/benchmarks.md. */
export function writeBenchmarkSection(name: string, text: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const doc = existsSync(FILE) ? readFileSync(FILE, "utf8") : "# Benchmarks\n";
  const section = `${start}\n${text}\n${end}`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  const updated =
    from >= 0 && to > from
      ? doc.slice(0, from) + section + doc.slice(to + end.length)
      : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(FILE, updated);
}
