import { signal, useSignalEffect } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { tinykeys } from 'tinykeys';
import { ActionError, ConsoleContext, isTyping, type Console } from './context.js';
import { formatDuration, now } from './clock.js';
import { chime, disableSound, enableSound, soundOn } from './sound.js';
import { setTheme, theme } from './theme.js';
import { VIEWS } from './views/roles.js';
import { ReviewView } from './views/review.js';
import type { CrewRole } from '../../shared/roles.js';

export { setTheme, theme };

export const showHelp = signal(false);
/** Which page the console shows: the role's live view or the post-live review. */
export const tab = signal<'live' | 'review'>('live');

/** Ops and observers can always open the review; everyone once the session has ended. */
export function canReview(role: CrewRole, status: string): boolean {
  return role === 'ops' || role === 'observer' || status === 'ended';
}
/** Every shortcut, for the `?` overlay and the README. Single keys work only in the focused panel. */
export const SHORTCUTS: readonly { keys: string; scope: string; does: string }[] = [
  { keys: '?', scope: 'anywhere', does: 'show or hide this list' },
  { keys: 'Esc', scope: 'anywhere', does: 'close this list' },
  { keys: 'g then q', scope: 'anywhere', does: 'focus the question queue' },
  { keys: 'g then i', scope: 'anywhere', does: 'focus the incidents' },
  { keys: 'g then h', scope: 'anywhere', does: 'focus stream health' },
  { keys: 'g then s', scope: 'anywhere', does: 'focus the session panel' },
  { keys: 'j / ↓, k / ↑', scope: 'question queue', does: 'next / previous question' },
  { keys: 'f', scope: 'question queue', does: 'flag the selected question for the host' },
  { keys: 'a', scope: 'question queue', does: 'mark it answered' },
  { keys: 'd', scope: 'question queue', does: 'dismiss it' },
  { keys: 'p', scope: 'question queue', does: 'pin or unpin it' },
  { keys: 'r', scope: 'question queue', does: 'restore it (answered or dismissed)' },
  { keys: '1–4', scope: 'question queue', does: 'show new, flagged, answered, dismissed' },
];

const PHASE_TEXT = {
  connecting: { icon: '○', text: 'Connecting' },
  live: { icon: '●', text: 'Live' },
  reconnecting: { icon: '▲', text: 'Reconnecting' },
  resynced: { icon: '●', text: 'Live, resynced' },
  stopped: { icon: '✕', text: 'Disconnected' },
} as const;

function ConnectionBadge({ console: c }: { console: Console }) {
  const phase = c.store.phase.value;
  const since = formatDuration(now.value - c.store.phaseSince.value);
  const { icon, text } = PHASE_TEXT[phase];
  const abnormal = phase === 'reconnecting' || phase === 'stopped';
  return (
    <span
      class={`pill conn-${phase} ${abnormal ? 'abnormal' : ''}`}
      data-connection={phase}
      title={
        phase === 'resynced'
          ? 'Some updates could not be replayed; the console loaded a fresh copy of the session.'
          : undefined
      }
    >
      <span aria-hidden="true">{icon}</span> {text} · {phase === 'resynced' ? `${since} ago` : `for ${since}`}
    </span>
  );
}

function HelpOverlay() {
  if (!showHelp.value) return null;
  return (
    <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="help-title">
      <div class="overlay-box">
        <h2 id="help-title">Keyboard shortcuts</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">keys</th>
              <th scope="col">where</th>
              <th scope="col">what</th>
            </tr>
          </thead>
          <tbody>
            {SHORTCUTS.map((s) => (
              <tr key={s.keys}>
                <td>
                  <kbd>{s.keys}</kbd>
                </td>
                <td>{s.scope}</td>
                <td>{s.does}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" onClick={() => (showHelp.value = false)} autoFocus>
          Close
        </button>
      </div>
    </div>
  );
}

function focusPanel(id: string): void {
  const panel = document.getElementById(id);
  if (!panel) return;
  const first = panel.querySelector<HTMLElement>('[role="listbox"], button, input');
  (first ?? panel).focus();
}

/** Sound for a sev1 incident not yet acknowledged, and for a cue to the host not yet answered; repeats until then. */
function useAlarms(c: Console): void {
  useSignalEffect(() => {
    const role = c.store.identity.value?.role;
    const urgent = Object.values(c.store.incidents.value).some((i) => i.severity === 'sev1' && i.status === 'open');
    const cue =
      role === 'host' &&
      Object.values(c.store.cues.value).some(
        (q) => (q.to as readonly string[]).includes('host') && !('host' in q.acknowledgedBy),
      );
    if (!soundOn.value || (!urgent && !cue)) return;
    chime(urgent);
    const timer = setInterval(() => chime(urgent), 8000);
    return () => clearInterval(timer);
  });
}

export function App({ console: c }: { console: Console }) {
  useEffect(
    () =>
      tinykeys(window, {
        // `?` arrives with or without Shift depending on the keyboard layout.
        '?': (e) => !isTyping(e) && (showHelp.value = !showHelp.value),
        'Shift+?': (e) => !isTyping(e) && (showHelp.value = !showHelp.value),
        Escape: () => (showHelp.value = false),
        'g q': (e) => !isTyping(e) && focusPanel('panel-queue'),
        'g i': (e) => !isTyping(e) && focusPanel('panel-incidents'),
        'g h': (e) => !isTyping(e) && focusPanel('panel-health'),
        'g s': (e) => !isTyping(e) && focusPanel('panel-session'),
      }),
    [],
  );
  useAlarms(c);
  const identity = c.store.identity.value;
  const phase = c.store.phase.value;
  const View = identity ? VIEWS[identity.role] : null;
  const reviewable =
    identity !== null && c.loadReview !== undefined && canReview(identity.role, c.store.session.value.status);
  const showReview = reviewable && tab.value === 'review';
  return (
    <ConsoleContext.Provider value={c}>
      <header class="topbar">
        <h1>
          Cueroom <span class="session-title">{c.store.session.value.title}</span>
        </h1>
        {identity ? (
          <span class="badge role-badge" data-role={identity.role}>
            <span class="role-name">{identity.role}</span> · {identity.name}
          </span>
        ) : null}
        <span class="tag" data-status={c.store.session.value.status}>
          session {c.store.session.value.status}
        </span>
        <ConnectionBadge console={c} />
        <span class="spacer" />
        <button
          type="button"
          onClick={() => (soundOn.value ? disableSound() : enableSound())}
          aria-pressed={soundOn.value}
        >
          {soundOn.value ? 'Sound on' : 'Enable sound'}
        </button>
        <button type="button" onClick={() => setTheme(theme.value === 'dark' ? 'light' : 'dark')}>
          {theme.value === 'dark' ? 'Light theme' : 'Dark theme'}
        </button>
        <button type="button" onClick={() => (showHelp.value = true)} aria-keyshortcuts="?">
          Shortcuts <kbd>?</kbd>
        </button>
      </header>
      <main>
        {phase === 'stopped' ? (
          <p class="stopped" role="alert">
            <span aria-hidden="true">✕</span> {c.store.stopReason.value}
          </p>
        ) : null}
        <ActionError action="general" />
        {reviewable ? (
          <nav class="tabs" aria-label="Pages">
            <button type="button" aria-pressed={!showReview} onClick={() => (tab.value = 'live')}>
              Live
            </button>
            <button type="button" aria-pressed={showReview} onClick={() => (tab.value = 'review')}>
              Review
            </button>
          </nav>
        ) : null}
        {showReview ? (
          <ReviewView />
        ) : View ? (
          <View />
        ) : phase !== 'stopped' ? (
          <p class="empty">Connecting to the session…</p>
        ) : null}
      </main>
      <HelpOverlay />
    </ConsoleContext.Provider>
  );
}

export function NoToken() {
  return (
    <main class="no-token">
      <h1>Cueroom</h1>
      <p>
        Open the invite link you were sent: it carries your role and signs you in (the part after <code>#token=</code>).
      </p>
      <p>Ops can create invite links for each crew member.</p>
    </main>
  );
}
