import { readFileSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Seeded } from './seeded.js';

const MiB = 1024 * 1024;

async function writeText(path: string, size: number, random: Seeded): Promise<void> {
  const words = ['GET', 'POST', '/api/v1/items', '/login', 'user=ann', 'user=bo', 'status=200', 'status=404', 'took', 'ms', 'cache=hit', 'cache=miss'];
  const file = await open(path, 'w');
  let written = 0;
  let line = 0;
  while (written < size) {
    const parts: string[] = [];
    for (let i = 0; i < 4096; i++, line++) {
      const r = random.next();
      parts.push(`2026-11-${String(1 + (line % 28)).padStart(2, '0')} ${String(line % 86400).padStart(5, '0')} ${words[Math.floor(r * words.length)]} ${words[(line * 7) % words.length]} ${Math.floor(r * 1000)} ${words[(line * 3) % words.length]}\n`);
    }
    const chunk = Buffer.from(parts.join('')).subarray(0, size - written);
    await file.write(chunk);
    written += chunk.length;
  }
  await file.close();
}

/** ~60% incompressible files of log-spread sizes (4 KiB–64 MiB), ~30% text, ~10% (≤ 10k) small files in nested folders. */
export async function generateSynthetic(dir: string, totalSize: number): Promise<void> {
  const random = new Seeded('hindsight-bench');
  await mkdir(join(dir, 'media'), { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  // Whole-byte targets: a fractional remainder would ask for a 0.2-byte file forever.
  const mediaTarget = Math.floor(totalSize * 0.6);
  const textTarget = Math.floor(totalSize * 0.3);
  let media = 0;
  for (let i = 0; media < mediaTarget; i++) {
    const size = Math.min(Math.round(Math.exp(Math.log(4096) + random.next() * (Math.log(64 * MiB) - Math.log(4096)))), mediaTarget - media);
    const file = await open(join(dir, 'media', `blob-${i}.bin`), 'w');
    for (let done = 0; done < size; done += 8 * MiB) await file.write(random.bytes(Math.min(8 * MiB, size - done)));
    await file.close();
    media += size;
  }
  let text = 0;
  for (let i = 0; text < textTarget; i++) {
    const size = Math.min(Math.round((1 + random.next() * 15) * MiB), textTarget - text);
    await writeText(join(dir, 'logs', `service-${i}.log`), size, random);
    text += size;
  }
  const smallCount = Math.min(10_000, Math.round((totalSize * 0.1) / 4608));
  for (let i = 0; i < smallCount; i++) {
    const folder = join(dir, 'docs', `d${i % 20}`, `e${i % 7}`, `f${i % 3}`);
    if (i < 420) await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `note-${i}.txt`), random.bytes(1024 + Math.floor(random.next() * 7 * 1024)));
  }
}

/** ~2% of the bytes: appends to logs, insertions in the middle of large files (shifting offsets), new and deleted small files. */
export async function mutateSynthetic(dir: string, totalSize: number): Promise<void> {
  const random = new Seeded('hindsight-bench-mutation');
  const budget = totalSize * 0.02;
  let changed = 0;
  for (const name of (await readdir(join(dir, 'logs'))).sort()) {
    if (changed > budget * 0.4) break;
    const file = await open(join(dir, 'logs', name), 'a');
    const extra = Math.round(256 * 1024);
    await file.write(random.bytes(extra).toString('base64'));
    await file.close();
    changed += extra;
  }
  const media = await Promise.all((await readdir(join(dir, 'media'))).map(async (name) => ({ name, size: (await stat(join(dir, 'media', name))).size })));
  for (const { name } of media.filter((m) => m.size > 8 * MiB).sort((a, b) => a.name.localeCompare(b.name))) {
    if (changed > budget * 0.9) break;
    const path = join(dir, 'media', name);
    const data = readFileSync(path);
    const insert = random.bytes(512 * 1024);
    await writeFile(path, Buffer.concat([data.subarray(0, data.length >> 1), insert, data.subarray(data.length >> 1)]));
    changed += insert.length;
  }
  for (let i = 0; i < 200; i++) await writeFile(join(dir, 'docs', `new-${i}.txt`), random.bytes(4096));
  for (let i = 0; i < 200; i += 2) await rm(join(dir, 'docs', `d${i % 20}`, `e${i % 7}`, `f${i % 3}`, `note-${i}.txt`), { force: true });
}
