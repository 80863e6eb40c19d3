import { rmSync } from 'node:fs';

/** Removes a directory tree; returns the error text, or null. */
export function removeDir(dir: string): string | null {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}
