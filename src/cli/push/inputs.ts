/**
 * Which files `oncely push` sends, and where each answer is written.
 * @module
 */
import { extname, isAbsolute, join, parse, relative, resolve } from "node:path";
import { glob, isDynamicPattern } from "tinyglobby";

/**
 * Expands the arguments into files, in argument order, each once. Globs are expanded here
 * so that quoted patterns work in any shell; a plain path is kept even when it does not
 * exist, so that it is reported as unreadable rather than silently dropped.
 */
export async function expandInputs(patterns: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const seen = new Set<string>();
  for (const pattern of patterns) {
    const matches = isDynamicPattern(pattern)
      ? (await glob(pattern, { onlyFiles: true, expandDirectories: false })).sort()
      : [pattern];
    for (const file of matches) {
      const absolute = resolve(file);
      if (seen.has(absolute)) continue;
      seen.add(absolute);
      files.push(file);
    }
  }
  return files;
}

/**
 * Where the answer for `file` goes: its path relative to the working directory, under
 * `out`; a file outside the working directory keeps its absolute path, less the root.
 * @param extension replaces the file's extension when given (`"jpg"` or `".jpg"`)
 */
export function outputPath(out: string, file: string, extension: string | undefined): string {
  const absolute = resolve(file);
  const fromHere = relative(process.cwd(), absolute);
  const inside = fromHere !== "" && !fromHere.startsWith("..") && !isAbsolute(fromHere);
  const name = inside ? fromHere : absolute.slice(parse(absolute).root.length);
  if (extension === undefined) return join(out, name);
  const dotted = extension.startsWith(".") ? extension : `.${extension}`;
  return join(out, name.slice(0, name.length - extname(name).length) + dotted);
}
