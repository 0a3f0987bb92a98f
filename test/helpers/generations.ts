import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededBytes } from './data.js';

/**
 * Generation `g` of a small, changing folder: files below g are rewritten in
 * each generation, the rest stay as in generation 0, and one file exists only
 * in generation g. Rebuilding a generation gives the exact bytes to compare a
 * restore with.
 */
export async function writeGeneration(folder: string, g: number, options: { files?: number; bytes?: number; halfChange?: boolean } = {}): Promise<void> {
  await rm(folder, { recursive: true, force: true });
  await mkdir(join(folder, 'docs'), { recursive: true });
  const files = options.files ?? 12;
  for (let i = 0; i < files; i++) {
    // halfChange: every other file is rewritten in every generation, which leaves much garbage to prune.
    const version = (options.halfChange ? i % 2 === 0 : i < g) ? g : 0;
    await writeFile(join(folder, 'docs', `file${i}.bin`), seededBytes(`f${i}-v${version}`, (options.bytes ?? 150 * 1024) + (i % 10) * 100));
  }
  await writeFile(join(folder, `only-in-${g}.txt`), `generation ${g}\n`);
}
