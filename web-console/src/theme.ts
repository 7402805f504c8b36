import { signal } from '@preact/signals';

export type Theme = 'dark' | 'light';

/** Dark by default; the choice is kept in localStorage when there is one. */
export const theme = signal<Theme>('dark');

export function setTheme(next: Theme): void {
  theme.value = next;
  document.documentElement.dataset.theme = next;
  try {
    localStorage.setItem('cueroom.theme', next);
  } catch {
    // Storage can be off (private mode); the theme then lasts for this page only.
  }
}
