import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "./package.js";

/**
 * A fenced code block of the user documentation. Every block carries, on the line before
 * its fence, `<!-- doc-test: <check> -->`: the name of the check in test/docs that runs it,
 * or `not run` and why (output shown, a fragment of a larger program, a schema).
 */
export interface DocBlock {
  /** Path relative to the project root. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly language: string;
  /** What the `doc-test` comment says, or undefined when there is none. */
  readonly check: string | undefined;
  readonly code: string;
}

/** The files whose blocks are checked: README.md and docs/*.md. */
export function documentationFiles(): string[] {
  const docs = readdirSync(join(projectRoot, "docs")).filter((name) => name.endsWith(".md"));
  return ["README.md", ...docs.map((name) => `docs/${name}`)];
}

/** Every fenced block of `file`. */
export function docBlocks(file: string): DocBlock[] {
  const lines = readFileSync(join(projectRoot, file), "utf8").split("\n");
  const blocks: DocBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const fence = /^(`{3,})(\S*)/.exec(lines[index] ?? "");
    if (!fence) continue;
    const close = lines.findIndex((text, at) => at > index && text.startsWith(fence[1] as string));
    const end = close < 0 ? lines.length : close;
    const marker = /^<!-- doc-test: (.+?) -->$/.exec(lines[index - 1] ?? "");
    blocks.push({
      file,
      line: index + 1,
      language: fence[2] ?? "",
      check: marker?.[1],
      code: lines.slice(index + 1, end).join("\n"),
    });
    index = end;
  }
  return blocks;
}

/** The one block whose check is `check`, anywhere in the documentation. */
export function docBlock(check: string): DocBlock {
  const found = documentationFiles()
    .flatMap(docBlocks)
    .filter((block) => block.check === check);
  if (found.length !== 1)
    throw new Error(`expected one block marked doc-test: ${check}, found ${found.length}`);
  return found[0] as DocBlock;
}
