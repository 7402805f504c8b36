import { signal } from '@preact/signals';

/** A once-a-second clock for "live for 2 min" and stale health; only readers of it re-render. */
export const now = signal(Date.now());

let timer: ReturnType<typeof setInterval> | null = null;
export function startClock(): void {
  timer ??= setInterval(() => (now.value = Date.now()), 1000);
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
