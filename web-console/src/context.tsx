import type { ComponentChildren, RefObject } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useId, useRef } from 'preact/hooks';
import { tinykeys } from 'tinykeys';
import type { CommandInput, CommandKind } from '../../shared/commands.js';
import { ACCEPTED_IN, isAllowed } from '../../shared/permissions.js';
import type { Review } from '../../server/review/review.js';
import type { Connection } from './connection.js';
import type { ConsoleStore } from './store.js';

export interface Console {
  store: ConsoleStore;
  connection: Pick<Connection, 'send' | 'errors' | 'pending' | 'clearError'>;
  /** Fetches the post-live review (GET /v1/sessions/:id/review with the console's token); absent: no Review tab. */
  loadReview?: (sessionId: string) => Promise<Review>;
}

export const ConsoleContext = createContext<Console | null>(null);

export function useConsole(): Console {
  const value = useContext(ConsoleContext);
  if (!value) throw new Error('ConsoleContext missing');
  return value;
}

/** Whether the role may send `kind` at all: the console never offers anything else. */
export function useAllowed(kind: CommandKind): boolean {
  const { store } = useConsole();
  const role = store.identity.value?.role;
  return role !== undefined && isAllowed(role, kind);
}

/** Why `kind` is not accepted in the session's current status, or null when it is. */
export function useBlockedReason(kind: CommandKind): string | null {
  const { store } = useConsole();
  const status = store.session.value.status;
  if (ACCEPTED_IN[kind].includes(status)) return null;
  const when = ACCEPTED_IN[kind].join(' or ');
  return `Only while the session is ${when} (it is ${status}).`;
}

/** The error an action caused, shown right next to it. */
export function ActionError({ action }: { action: string }) {
  const { connection } = useConsole();
  const message = connection.errors.value[action];
  if (!message) return null;
  return (
    <span class="action-error" data-action-error={action}>
      <span aria-hidden="true">⚠</span> {message}{' '}
      <button type="button" class="link" onClick={() => connection.clearError(action)} aria-label="Dismiss error">
        ✕
      </button>
    </span>
  );
}

interface ActionProps {
  /** Key matching errors to this button; unique on the page. */
  action: string;
  command: () => CommandInput | null;
  label: ComponentChildren;
  title?: string;
  keyHint?: string;
  class?: string;
  /** Keeps the error inline with the button (default true). */
  showError?: boolean;
}

/**
 * A button for one command: absent when the role may not send it, disabled with the
 * reason when the session's status does not accept it, busy until acked.
 */
export function Action({ action, command, label, title, keyHint, class: className, showError = true }: ActionProps) {
  const { connection } = useConsole();
  const probe = command();
  const kind = probe?.kind;
  const allowed = useAllowed(kind ?? 'session.end');
  const blocked = useBlockedReason(kind ?? 'session.end');
  if (!kind || !allowed) return null;
  const busy = Object.values(connection.pending.value).some((p) => p.action === action);
  return (
    <span class="action">
      <button
        type="button"
        class={className}
        disabled={blocked !== null || busy}
        title={blocked ?? title}
        aria-keyshortcuts={keyHint}
        onClick={() => {
          const next = command();
          if (next) connection.send(action, next);
        }}
      >
        {label}
        {keyHint ? <kbd aria-hidden="true">{keyHint}</kbd> : null}
      </button>
      {showError ? <ActionError action={action} /> : null}
    </span>
  );
}

export function isTyping(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement | null;
  if (!target) return false;
  const tag = target.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable;
}

/** Single-key shortcuts that fire only while focus is inside `ref` (and not in a text field). */
export function usePanelKeys(
  ref: RefObject<HTMLElement | null>,
  keys: Record<string, () => void>,
  deps: unknown[],
): void {
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const map: Record<string, (event: KeyboardEvent) => void> = {};
    for (const [key, run] of Object.entries(keys)) {
      map[key] = (event) => {
        if (isTyping(event)) return;
        event.preventDefault();
        run();
      };
    }
    return tinykeys(element, map);
  }, deps);
}

export function Panel({
  title,
  children,
  class: className,
  panelRef,
  id,
}: {
  title: string;
  children: ComponentChildren;
  class?: string;
  panelRef?: RefObject<HTMLElement | null>;
  id?: string;
}) {
  const headingId = useId();
  const own = useRef<HTMLElement>(null);
  return (
    <section class={`panel ${className ?? ''}`} aria-labelledby={headingId} ref={panelRef ?? own} id={id} tabIndex={-1}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}
