import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as v from 'valibot';

/** Settings of the desktop app itself (the agent's live in the agent). */
const DesktopSettingsSchema = v.object({
  openAtLogin: v.optional(v.boolean(), false),
  notifyOnSuccess: v.optional(v.boolean(), false),
  /** Remind when a plan has had no successful backup for this many days. */
  overdueDays: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(365)), 7),
});

export type DesktopSettings = v.InferOutput<typeof DesktopSettingsSchema>;

/** Reads the settings file; a missing or damaged file gives the defaults rather than an app that will not start. */
export async function loadDesktopSettings(file: string): Promise<DesktopSettings> {
  let raw: unknown = {};
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    // Missing on first run; damaged by hand: defaults either way.
  }
  const parsed = v.safeParse(DesktopSettingsSchema, raw);
  return parsed.success ? parsed.output : v.parse(DesktopSettingsSchema, {});
}

export async function saveDesktopSettings(file: string, settings: DesktopSettings): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(settings, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}
