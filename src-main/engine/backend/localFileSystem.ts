import type { Dirent, Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';

/** The calls the local backend makes on an open file; Node's FileHandle has them all. */
export interface LocalFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  readv(buffers: readonly Uint8Array[], position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  stat(): Promise<Stats>;
  close(): Promise<void>;
}

/**
 * The file-system calls of the local backend. Node's own in production; the
 * power-loss tests substitute a layer that records which writes, renames and
 * deletes an fsync made durable, so a simulated power cut can drop the rest.
 */
export interface LocalFileSystem {
  open(path: string, flags: string | number, mode?: number): Promise<LocalFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<string | undefined>;
  readdir(path: string, options: { withFileTypes: true }): Promise<Dirent[]>;
  lstat(path: string): Promise<Stats>;
  stat(path: string): Promise<Stats>;
}

export const nodeFileSystem: LocalFileSystem = { open, rename, unlink, mkdir, readdir, lstat, stat };
