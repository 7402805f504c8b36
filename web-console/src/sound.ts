import { signal } from '@preact/signals';

/** Browsers only play sound after a gesture: the crew turns it on with an explicit click. */
export const soundOn = signal(false);
let context: AudioContext | null = null;

export function enableSound(): void {
  const Ctor = globalThis.AudioContext;
  if (!Ctor) return;
  context ??= new Ctor();
  void context.resume();
  soundOn.value = true;
}

export function disableSound(): void {
  soundOn.value = false;
}

/** Two short tones; `urgent` is higher and repeated. */
export function chime(urgent: boolean): void {
  if (!soundOn.peek() || !context) return;
  const start = context.currentTime;
  for (let i = 0; i < (urgent ? 3 : 2); i++) {
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.frequency.value = urgent ? 880 : 660;
    gain.gain.setValueAtTime(0.0001, start + i * 0.25);
    gain.gain.exponentialRampToValueAtTime(0.2, start + i * 0.25 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.25 + 0.2);
    osc.connect(gain).connect(context.destination);
    osc.start(start + i * 0.25);
    osc.stop(start + i * 0.25 + 0.22);
  }
}
