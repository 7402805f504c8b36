import { useComputed, useSignal } from '@preact/signals';
import type { JSX } from 'preact';
import type { CrewRole } from '../../../shared/roles.js';
import { Action, Panel, useConsole } from '../context.js';
import {
  ActivityPanel,
  CuesPanel,
  HealthPanel,
  IncidentsPanel,
  LifecyclePanel,
  LineupEditor,
  LineupPanel,
  PresencePanel,
  QaCounts,
  QuestionQueue,
  formatPrice,
} from './panels.js';

/** Full-screen banner on the host's screen: sev1 incidents and anything pushed to the host. */
export function HostBanner() {
  const { store } = useConsole();
  const hidden = useSignal<Record<string, number>>({});
  const shown = Object.values(store.incidents.value).filter(
    (i) => i.status !== 'resolved' && (i.severity === 'sev1' || i.pushedToHost) && hidden.value[i.id] !== i.occurrences,
  );
  const incident = shown[0];
  if (!incident) return null;
  const critical = incident.severity === 'sev1';
  return (
    <div
      class={`banner ${critical ? 'critical' : 'pushed'}`}
      role={critical ? 'alert' : 'status'}
      data-banner={incident.id}
    >
      <p class="banner-kind">
        <span aria-hidden="true">{critical ? '■' : '▲'}</span> {critical ? 'Critical incident' : 'From the crew'}
      </p>
      <p class="banner-title">{incident.title}</p>
      {incident.detail ? <p>{incident.detail}</p> : null}
      <p class="meta">{incident.status === 'acknowledged' ? 'Tech is on it.' : 'Waiting for tech.'}</p>
      <button type="button" onClick={() => (hidden.value = { ...hidden.value, [incident.id]: incident.occurrences })}>
        Hide until it changes
      </button>
    </div>
  );
}

export function HostView() {
  const { store } = useConsole();
  const { products, currentProductId } = store.lineup.value;
  const product = products.find((p) => p.id === currentProductId);
  const flagged = useComputed(() =>
    Object.values(store.questions.value)
      .filter((q) => q.status === 'flagged')
      .sort((a, b) => a.order - b.order),
  );
  const cues = Object.values(store.cues.value)
    .filter((c) => (c.to as readonly CrewRole[]).includes('host') && !('host' in c.acknowledgedBy))
    .sort((a, b) => a.sentAt - b.sentAt);
  return (
    <div class="host">
      <HostBanner />
      <Panel title="On screen now" class="on-screen">
        {product ? (
          <>
            <p class="product-name">{product.name}</p>
            <p class="product-price">
              {formatPrice(product)}{' '}
              {product.soldOut ? <span class="tag abnormal">✕ sold out</span> : <span>· {product.stock} left</span>}
            </p>
            <ul class="talking-points">
              {product.talkingPoints.map((t, i) => (
                <li key={i}>{t}</li>
              ))}
            </ul>
          </>
        ) : (
          <p class="product-name">No product on screen yet.</p>
        )}
      </Panel>
      <Panel title="Cues for you" class="host-cues">
        {cues.length === 0 ? <p class="empty">No cues.</p> : null}
        <ul>
          {cues.map((cue) => (
            <li key={cue.id} class="cue-big">
              <span>“{cue.text}”</span> <span class="meta">from {cue.from}</span>{' '}
              <Action
                action={`cue-ack-${cue.id}`}
                label="Got it"
                command={() => ({ kind: 'cue.acknowledge', cueId: cue.id })}
              />
            </li>
          ))}
        </ul>
      </Panel>
      <Panel title="Questions for you" class="host-questions">
        <p role="status" class="meta">
          {flagged.value.length} flagged
        </p>
        <ol>
          {flagged.value.map((q) => (
            <li key={q.id} class="host-question" data-question={q.id}>
              <span>{q.text}</span> <span class="meta">— {q.author}</span>{' '}
              <Action
                action={`answer-${q.id}`}
                label="Answered"
                command={() => ({ kind: 'question.answer', questionId: q.id })}
              />
            </li>
          ))}
        </ol>
      </Panel>
    </div>
  );
}

export function CohostView() {
  return (
    <div class="grid cohost">
      <QuestionQueue />
      <div class="column">
        <LineupPanel />
        <CuesPanel title="Send a cue" />
      </div>
    </div>
  );
}

export function TechView() {
  return (
    <div class="grid tech">
      <HealthPanel />
      <IncidentsPanel />
      <CuesPanel />
    </div>
  );
}

export function OpsView() {
  return (
    <div class="grid ops">
      <LifecyclePanel />
      <HealthPanel />
      <IncidentsPanel />
      <QaCounts />
      <LineupPanel />
      <LineupEditor />
      <CuesPanel />
      <PresencePanel />
      <QuestionQueue />
      <ActivityPanel />
    </div>
  );
}

/** Observers see what ops sees; every action is filtered out by the permission table. */
export function ObserverView() {
  return (
    <div class="grid observer">
      <p class="readonly-note">Read-only: observers watch, they do not act.</p>
      <OpsView />
    </div>
  );
}

export const VIEWS: Record<CrewRole, () => JSX.Element> = {
  host: HostView,
  cohost: CohostView,
  tech: TechView,
  ops: OpsView,
  observer: ObserverView,
};
