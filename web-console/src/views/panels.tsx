import { useComputed, useSignal } from '@preact/signals';
import { memo } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { Incident, Product, Question, QuestionStatus, Severity } from '../../../shared/model.js';
import type { CrewRole } from '../../../shared/roles.js';
import { Action, ActionError, Panel, useAllowed, useBlockedReason, useConsole, usePanelKeys } from '../context.js';
import { HEALTH_ICON, HEALTH_LABEL, healthLevel } from '../health.js';
import { now } from '../clock.js';
import { CREW_ROLES, INCIDENT_CATEGORIES, SEVERITIES } from '../model-constants.js';
import { theme } from '../theme.js';

const CREW: readonly CrewRole[] = CREW_ROLES;
const CATEGORIES = INCIDENT_CATEGORIES;

export function formatPrice(product: Pick<Product, 'price' | 'currency'>): string {
  return `${(product.price / 100).toFixed(2)} ${product.currency}`;
}

function time(ms: number | null): string {
  return ms === null
    ? '—'
    : new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/* ---------------------------------------------------------------- lineup */

export function LineupPanel() {
  const { store } = useConsole();
  const { products, currentProductId } = store.lineup.value;
  const index = products.findIndex((p) => p.id === currentProductId);
  const current = index >= 0 ? products[index] : undefined;
  const next = products[index + 1] ?? (index < 0 ? products[0] : undefined);
  return (
    <Panel title="Lineup" class="lineup">
      <p>
        <strong>Now:</strong> {current ? `${current.name} · ${formatPrice(current)}` : 'nothing on screen'}
        <br />
        <strong>Next:</strong> {next ? next.name : '—'}
      </p>
      {next ? (
        <Action
          action="lineup-next"
          label={`Switch to next: ${next.name}`}
          command={() => ({ kind: 'product.switch', productId: next.id })}
        />
      ) : null}
      <ol class="lineup-list">
        {products.map((product) => (
          <li key={product.id} aria-current={product.id === currentProductId ? 'true' : undefined}>
            <span>
              {product.id === currentProductId ? <span aria-hidden="true">▶ </span> : null}
              {product.name} · {formatPrice(product)} · stock {product.stock}
              {product.soldOut ? <span class="tag abnormal"> ✕ sold out</span> : null}
            </span>
            {product.id !== currentProductId ? (
              <Action
                action={`switch-${product.id}`}
                label="Switch"
                title={`Put ${product.name} on screen`}
                command={() => ({ kind: 'product.switch', productId: product.id })}
              />
            ) : null}
          </li>
        ))}
      </ol>
    </Panel>
  );
}

/* ---------------------------------------------------------------- questions */

const STATUS_TABS: readonly QuestionStatus[] = ['new', 'flagged', 'answered', 'dismissed'];

const QuestionRow = memo(function QuestionRow({
  question,
  productName,
  selected,
  onSelect,
}: {
  question: Question;
  productName: string | null;
  selected: boolean;
  onSelect: (id: string) => void;
}) {
  const id = question.id;
  const { store } = useConsole();
  // One vote per crew member: the server counts each voter once.
  const me = store.identity.value?.name ?? '';
  const voted = question.voters.includes(me);
  return (
    <li
      class={`question ${selected ? 'selected' : ''}`}
      aria-current={selected ? 'true' : undefined}
      id={`q-${id}`}
      onClick={() => onSelect(id)}
      data-question={id}
    >
      <div class="question-text">
        {question.pinned ? <span class="tag">★ pinned</span> : null}
        {question.text}
      </div>
      <div class="meta">
        {question.author} · ▲ {question.upvotes} · {productName ? `asked under ${productName}` : 'no product on screen'}{' '}
        · {question.status}
      </div>
      <div class="row-actions">
        {question.status === 'new' ? (
          <Action
            action={`flag-${id}`}
            label="Flag"
            keyHint="f"
            command={() => ({ kind: 'question.flag', questionId: id })}
          />
        ) : null}
        {question.status === 'new' || question.status === 'flagged' ? (
          <Action
            action={`answer-${id}`}
            label="Answered"
            keyHint="a"
            command={() => ({ kind: 'question.answer', questionId: id })}
          />
        ) : null}
        {question.status !== 'dismissed' && question.status !== 'answered' ? (
          <Action
            action={`dismiss-${id}`}
            label="Dismiss"
            keyHint="d"
            command={() => ({ kind: 'question.dismiss', questionId: id })}
          />
        ) : null}
        {me && !voted && question.status !== 'dismissed' ? (
          <Action
            action={`upvote-${id}`}
            label="▲ +1"
            title="Upvote on behalf of the crew"
            command={() => ({ kind: 'question.upvote', questionId: id, voter: me })}
          />
        ) : null}
        <Action
          action={`pin-${id}`}
          label={question.pinned ? 'Unpin' : 'Pin'}
          keyHint="p"
          command={() => ({ kind: 'question.pin', questionId: id, pinned: !question.pinned })}
        />
        {question.status === 'dismissed' || question.status === 'answered' ? (
          <Action
            action={`restore-${id}`}
            label="Restore"
            keyHint="r"
            command={() => ({ kind: 'question.restore', questionId: id })}
          />
        ) : null}
      </div>
    </li>
  );
});

export function sortQueue(questions: Question[]): Question[] {
  return questions.sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.priority - a.priority || a.order - b.order);
}

export function QuestionQueue() {
  const { store, connection } = useConsole();
  const tab = useSignal<QuestionStatus>('new');
  const selected = useSignal<string | null>(null);
  const panel = useRef<HTMLElement>(null);
  const productNames = useComputed(() => new Map(store.lineup.value.products.map((p) => [p.id, p.name])));
  const counts = useComputed(() => {
    const out: Record<QuestionStatus, number> = { new: 0, flagged: 0, answered: 0, dismissed: 0 };
    for (const q of Object.values(store.questions.value)) out[q.status] += 1;
    return out;
  });
  const list = useComputed(() => sortQueue(Object.values(store.questions.value).filter((q) => q.status === tab.value)));
  const canFlag = useAllowed('question.flag');
  const current = list.value.find((q) => q.id === selected.value) ?? list.value[0];

  const move = (delta: number) => {
    const items = list.value;
    if (items.length === 0) return;
    const at = Math.max(
      0,
      items.findIndex((q) => q.id === current?.id),
    );
    const target = items[Math.min(items.length - 1, Math.max(0, at + delta))];
    if (target) {
      selected.value = target.id;
      document.getElementById(`q-${target.id}`)?.scrollIntoView?.({ block: 'nearest' });
    }
  };
  const act = (
    kind: 'question.flag' | 'question.answer' | 'question.dismiss' | 'question.restore' | 'question.pin',
  ) => {
    if (!current || !canFlag) return;
    const name = kind.slice(9);
    const command =
      kind === 'question.pin'
        ? { kind, questionId: current.id, pinned: !current.pinned }
        : { kind, questionId: current.id };
    connection.send(`${name}-${current.id}`, command);
  };
  usePanelKeys(
    panel,
    {
      j: () => move(1),
      k: () => move(-1),
      ArrowDown: () => move(1),
      ArrowUp: () => move(-1),
      f: () => act('question.flag'),
      a: () => act('question.answer'),
      d: () => act('question.dismiss'),
      p: () => act('question.pin'),
      r: () => act('question.restore'),
      '1': () => (tab.value = 'new'),
      '2': () => (tab.value = 'flagged'),
      '3': () => (tab.value = 'answered'),
      '4': () => (tab.value = 'dismissed'),
    },
    [current?.id, canFlag],
  );

  return (
    <Panel title="Question queue" class="queue" panelRef={panel} id="panel-queue">
      <div role="tablist" aria-label="Question status" class="tabs">
        {STATUS_TABS.map((status, i) => (
          <button
            key={status}
            type="button"
            role="tab"
            aria-selected={tab.value === status}
            onClick={() => (tab.value = status)}
          >
            {status}{' '}
            <span role="status" aria-label={`${counts.value[status]} ${status}`}>
              {counts.value[status]}
            </span>
            <kbd aria-hidden="true">{i + 1}</kbd>
          </button>
        ))}
      </div>
      {list.value.length === 0 ? (
        <p class="empty">No {tab.value} questions.</p>
      ) : (
        <ul class="question-list" tabIndex={0} aria-label={`${tab.value} questions`}>
          {list.value.map((q) => (
            <QuestionRow
              key={q.id}
              question={q}
              productName={q.productId ? (productNames.value.get(q.productId) ?? q.productId) : null}
              selected={q.id === current?.id}
              onSelect={(id) => (selected.value = id)}
            />
          ))}
        </ul>
      )}
    </Panel>
  );
}

export function QaCounts() {
  const { store } = useConsole();
  const counts = useComputed(() => {
    const out: Record<QuestionStatus, number> = { new: 0, flagged: 0, answered: 0, dismissed: 0 };
    for (const q of Object.values(store.questions.value)) out[q.status] += 1;
    return out;
  });
  return (
    <Panel title="Q&A">
      <div role="status" aria-label="Question counts">
        <ul class="counts">
          {STATUS_TABS.map((s) => (
            <li key={s}>
              <span class="count">{counts.value[s]}</span> {s}
            </li>
          ))}
        </ul>
      </div>
    </Panel>
  );
}

/* ---------------------------------------------------------------- cues */

export function CuesPanel({ title = 'Cues' }: { title?: string }) {
  const { store } = useConsole();
  const role = store.identity.value?.role;
  const cues = Object.values(store.cues.value).sort((a, b) => b.sentAt - a.sentAt);
  return (
    <Panel title={title} class="cues">
      <CueForm />
      {cues.length === 0 ? <p class="empty">No cues yet.</p> : null}
      <ul class="cue-list">
        {cues.map((cue) => {
          const mine = role !== undefined && (cue.to as readonly string[]).includes(role);
          const pending = cue.to.filter((r) => !(r in cue.acknowledgedBy));
          return (
            <li key={cue.id} class={pending.length > 0 ? 'unacked' : ''}>
              <span class="cue-text">“{cue.text}”</span>
              <span class="meta">
                {' '}
                from {cue.from} to {cue.to.join(', ')} at {time(cue.sentAt)} ·{' '}
                {pending.length === 0 ? '✓ acknowledged' : `waiting for ${pending.join(', ')}`}
              </span>
              {mine && role && !(role in cue.acknowledgedBy) ? (
                <Action
                  action={`cue-ack-${cue.id}`}
                  label="Got it"
                  command={() => ({ kind: 'cue.acknowledge', cueId: cue.id })}
                />
              ) : null}
            </li>
          );
        })}
      </ul>
    </Panel>
  );
}

export function CueForm() {
  const { store, connection } = useConsole();
  const allowed = useAllowed('cue.send');
  const blocked = useBlockedReason('cue.send');
  const role = store.identity.value?.role;
  const [text, setText] = useState('');
  const [to, setTo] = useState<CrewRole[]>(['host']);
  if (!allowed) return null;
  const targets = role === 'ops' ? CREW : CREW.filter((r) => r !== 'observer');
  return (
    <form
      class="cue-form"
      onSubmit={(event) => {
        event.preventDefault();
        if (!text.trim() || to.length === 0) return;
        connection.send('cue-send', { kind: 'cue.send', to, text: text.trim() });
        setText('');
      }}
    >
      <fieldset>
        <legend>Send a cue to</legend>
        {targets.map((r) => (
          <label key={r}>
            <input
              type="checkbox"
              checked={to.includes(r)}
              onChange={(event) =>
                setTo((old) => ((event.target as HTMLInputElement).checked ? [...old, r] : old.filter((x) => x !== r)))
              }
            />{' '}
            {r}
          </label>
        ))}
      </fieldset>
      <label>
        Cue text{' '}
        <input
          value={text}
          maxLength={280}
          onInput={(event) => setText((event.target as HTMLInputElement).value)}
          placeholder="e.g. 30 s to break"
        />
      </label>
      <button type="submit" disabled={blocked !== null} title={blocked ?? undefined}>
        Send cue
      </button>
      <ActionError action="cue-send" />
    </form>
  );
}

/* ---------------------------------------------------------------- incidents */

export const SEVERITY_ICON: Record<Severity, string> = { sev1: '■', sev2: '▲', sev3: '●' };

function IncidentRow({ incident }: { incident: Incident }) {
  const { store, connection } = useConsole();
  const id = incident.id;
  const [note, setNote] = useState('');
  const [assignee, setAssignee] = useState('');
  const canRespond = useAllowed('incident.add_note');
  const me = store.identity.value?.name ?? null;
  const resolved = incident.status === 'resolved';
  const abnormal = !resolved && incident.severity !== 'sev3';
  const breaching = !resolved && incident.signal?.breaching === true;
  return (
    <li class={`incident ${abnormal ? `abnormal ${incident.severity}` : ''}`} data-incident={id}>
      <div>
        <span class={`tag ${abnormal ? 'abnormal' : ''}`}>
          <span aria-hidden="true">{SEVERITY_ICON[incident.severity]}</span> {incident.severity}
        </span>{' '}
        <strong>{incident.title}</strong> <span class="tag">{incident.status}</span>
        {incident.occurrences > 1 ? <span class="tag"> ×{incident.occurrences}</span> : null}
        {incident.pushedToHost ? <span class="tag"> on host screen</span> : null}
        {breaching ? (
          <span class="tag abnormal">
            <span aria-hidden="true">▲</span> {incident.signal?.rule} still breaching
          </span>
        ) : null}
      </div>
      <div class="meta">
        {incident.category} · raised by {incident.raisedBy} at {time(incident.raisedAt)} · assignee{' '}
        {incident.assignee ?? 'nobody'}
      </div>
      {incident.detail ? <p>{incident.detail}</p> : null}
      {incident.notes.length > 0 ? (
        <ul class="notes">
          {incident.notes.map((n, i) => (
            <li key={i}>
              {n.by}: {n.text}
            </li>
          ))}
        </ul>
      ) : null}
      <div class="row-actions">
        {incident.status === 'open' ? (
          <Action
            action={`ack-${id}`}
            label="Acknowledge"
            command={() => ({ kind: 'incident.acknowledge', incidentId: id })}
          />
        ) : null}
        {!resolved ? (
          <Action
            action={`resolve-${id}`}
            // The health rules refuse a plain resolve while the signal breaches: say so on the button.
            label={breaching ? 'Force resolve' : 'Resolve'}
            title={breaching ? 'The signal still breaches; resolving now is recorded as an override.' : undefined}
            command={() => ({ kind: 'incident.resolve', incidentId: id, ...(breaching ? { force: true } : {}) })}
          />
        ) : null}
        {resolved ? (
          <Action
            action={`reopen-${id}`}
            label="Reopen"
            command={() => ({ kind: 'incident.reopen', incidentId: id })}
          />
        ) : null}
        {!resolved ? (
          <Action
            action={`push-${id}`}
            label={incident.pushedToHost ? 'Take off host screen' : 'Push to host'}
            command={() => ({ kind: 'incident.push_to_host', incidentId: id, pushed: !incident.pushedToHost })}
          />
        ) : null}
        {!resolved
          ? SEVERITIES.filter((s) => s !== incident.severity).map((s) => (
              <Action
                key={s}
                action={`sev-${id}-${s}`}
                label={`Make ${s}`}
                command={() => ({ kind: 'incident.set_severity', incidentId: id, severity: s })}
              />
            ))
          : null}
        {!resolved && me && incident.assignee !== me ? (
          <Action
            action={`assign-me-${id}`}
            label="Assign to me"
            command={() => ({ kind: 'incident.assign', incidentId: id, assignee: me })}
          />
        ) : null}
      </div>
      {canRespond && !resolved ? (
        <div class="row-forms">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (assignee.trim())
                connection.send(`assign-${id}`, { kind: 'incident.assign', incidentId: id, assignee: assignee.trim() });
              setAssignee('');
            }}
          >
            <label>
              Assign to <input value={assignee} onInput={(e) => setAssignee((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit">Assign</button>
            <ActionError action={`assign-${id}`} />
          </form>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (note.trim())
                connection.send(`note-${id}`, { kind: 'incident.add_note', incidentId: id, text: note.trim() });
              setNote('');
            }}
          >
            <label>
              Note <input value={note} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit">Add note</button>
            <ActionError action={`note-${id}`} />
          </form>
        </div>
      ) : null}
    </li>
  );
}

export function IncidentsPanel() {
  const { store } = useConsole();
  const [showResolved, setShowResolved] = useState(false);
  const all = Object.values(store.incidents.value);
  const open = all.filter((i) => i.status !== 'resolved');
  const list = (showResolved ? all : open).sort(
    (a, b) => a.severity.localeCompare(b.severity) || b.raisedAt - a.raisedAt,
  );
  return (
    <Panel title="Incidents" class="incidents" id="panel-incidents">
      <p role="status" class="meta">
        {open.length} open · {all.length - open.length} resolved
      </p>
      <RaiseIncident />
      <label>
        <input
          type="checkbox"
          checked={showResolved}
          onChange={(e) => setShowResolved((e.target as HTMLInputElement).checked)}
        />{' '}
        Show resolved
      </label>
      {list.length === 0 ? <p class="empty">No open incidents.</p> : null}
      <ul class="incident-list">
        {list.map((incident) => (
          <IncidentRow key={incident.id} incident={incident} />
        ))}
      </ul>
    </Panel>
  );
}

function RaiseIncident() {
  const { connection } = useConsole();
  const allowed = useAllowed('incident.raise');
  const blocked = useBlockedReason('incident.raise');
  const [title, setTitle] = useState('');
  const [severity, setSeverity] = useState<Severity>('sev2');
  const [category, setCategory] = useState<(typeof CATEGORIES)[number]>('video');
  const [push, setPush] = useState(false);
  if (!allowed) return null;
  return (
    <form
      class="raise-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!title.trim()) return;
        connection.send('incident-raise', {
          kind: 'incident.raise',
          severity,
          category,
          title: title.trim(),
          pushToHost: push,
        });
        setTitle('');
      }}
    >
      <label>
        Raise an incident{' '}
        <input
          value={title}
          maxLength={200}
          onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
          placeholder="What is wrong?"
        />
      </label>
      <label>
        Severity{' '}
        <select value={severity} onChange={(e) => setSeverity((e.target as HTMLSelectElement).value as Severity)}>
          {SEVERITIES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Category{' '}
        <select
          value={category}
          onChange={(e) => setCategory((e.target as HTMLSelectElement).value as (typeof CATEGORIES)[number])}
        >
          {CATEGORIES.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </label>
      <label>
        <input type="checkbox" checked={push} onChange={(e) => setPush((e.target as HTMLInputElement).checked)} /> show
        to host
      </label>
      <button type="submit" disabled={blocked !== null} title={blocked ?? undefined}>
        Raise
      </button>
      <ActionError action="incident-raise" />
    </form>
  );
}

/* ---------------------------------------------------------------- health */

let drawable: boolean | null = null;
export function canDraw(): boolean {
  drawable ??= typeof window.matchMedia === 'function' && document.createElement('canvas').getContext('2d') !== null;
  return drawable;
}

function Sparkline({ label, values, times, unit }: { label: string; values: number[]; times: number[]; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    // No 2D canvas (a test DOM): the figures above the chart still show the values.
    if (!box.current || !canDraw()) return;
    const css = getComputedStyle(document.documentElement);
    const stroke = css.getPropertyValue('--fg').trim() || '#ccc';
    try {
      plot.current = new uPlot(
        {
          width: 220,
          height: 48,
          legend: { show: false },
          cursor: { show: false },
          axes: [{ show: false }, { show: false }],
          scales: { x: { time: false } },
          series: [{}, { stroke, width: 1.5, points: { show: false } }],
        },
        [[], []],
        box.current,
      );
    } catch {
      // No canvas (e.g. a test DOM): the figures above the chart still show the values.
      plot.current = null;
    }
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    // Only the data is replaced: no re-render of the chart's DOM per sample.
    plot.current?.setData([times, values]);
  }, [values, times]);
  const last = values.at(-1);
  return (
    <figure class="spark">
      <figcaption>
        {label}: <strong>{last === undefined ? '—' : `${Math.round(last * 10) / 10} ${unit}`}</strong>
      </figcaption>
      <div ref={box} aria-hidden="true" />
    </figure>
  );
}

export function HealthPill() {
  const { store } = useConsole();
  const h = store.health.value;
  const level = healthLevel(h.latest, h.window, h.targetBitrateKbps, now.value);
  const critical = level === 'critical' || level === 'offline';
  return (
    <span class={`pill health-${level}`} role={critical ? 'alert' : 'status'} data-health={level}>
      <span aria-hidden="true">{HEALTH_ICON[level]}</span> Stream: {HEALTH_LABEL[level]}
    </span>
  );
}

export function HealthPanel() {
  const { store } = useConsole();
  const h = store.health.value;
  const times = h.window.map((s) => s.ts / 1000);
  return (
    <Panel title="Stream health" class="health" id="panel-health">
      <p>
        <HealthPill />{' '}
        <span class="meta">target {h.targetBitrateKbps ? `${h.targetBitrateKbps} kbps` : 'not set'}</span>
      </p>
      {/* Keyed on the theme: the charts are drawn again in the new colours. */}
      <div class="sparks" key={theme.value}>
        <Sparkline label="Bitrate" unit="kbps" times={times} values={h.window.map((s) => s.bitrateKbps)} />
        <Sparkline label="FPS" unit="fps" times={times} values={h.window.map((s) => s.fps)} />
        <Sparkline label="Dropped frames" unit="" times={times} values={h.window.map((s) => s.droppedFrames)} />
      </div>
    </Panel>
  );
}

/* ---------------------------------------------------------------- ops */

export function LifecyclePanel() {
  const { store, connection } = useConsole();
  const session = store.session.value;
  const unchecked = session.checklist.filter((i) => !i.checked);
  const [reason, setReason] = useState('');
  const [label, setLabel] = useState('');
  const canAdd = useAllowed('session.add_checklist_item');
  const addBlocked = useBlockedReason('session.add_checklist_item');
  return (
    <Panel title="Session" class="lifecycle" id="panel-session">
      <p>
        <strong>{session.title || 'Untitled session'}</strong> · status{' '}
        <span class="tag" data-status={session.status}>
          {session.status}
        </span>
        {session.liveAt ? ` · live since ${time(session.liveAt)}` : ''}
      </p>
      <div class="row-actions">
        <Action
          action="start-preflight"
          label="Start preflight"
          command={() => ({ kind: 'session.start_preflight' })}
        />
        {session.status !== 'preflight' ? null : unchecked.length === 0 ? (
          <Action action="go-live" label="Go live" class="primary" command={() => ({ kind: 'session.go_live' })} />
        ) : (
          <span class="override">
            <label>
              Reason to go live with {unchecked.length} unchecked{' '}
              <input value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
            </label>
            <Action
              action="go-live"
              label="Go live anyway"
              class="primary"
              command={() => ({ kind: 'session.go_live', override: true, reason: reason.trim() || 'ops override' })}
            />
          </span>
        )}
        <Action action="end-session" label="End session" command={() => ({ kind: 'session.end' })} />
      </div>
      <h3>Preflight checklist</h3>
      <ul class="checklist">
        {session.checklist.map((item) => (
          <li key={item.id}>
            <span aria-hidden="true">{item.checked ? '☑' : '☐'}</span> {item.label}
            {item.checkedBy ? <span class="meta"> · {item.checkedBy}</span> : null}{' '}
            <Action
              action={`check-${item.id}`}
              label={item.checked ? 'Uncheck' : 'Check'}
              command={() => ({ kind: 'session.check_item', itemId: item.id, checked: !item.checked })}
            />
          </li>
        ))}
      </ul>
      {canAdd ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (!label.trim()) return;
            connection.send('add-item', {
              kind: 'session.add_checklist_item',
              itemId: `item-${Date.now().toString(36)}`,
              label: label.trim(),
            });
            setLabel('');
          }}
        >
          <label>
            New checklist item <input value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" disabled={addBlocked !== null} title={addBlocked ?? undefined}>
            Add
          </button>
          <ActionError action="add-item" />
        </form>
      ) : null}
    </Panel>
  );
}

export function LineupEditor() {
  const { store, connection } = useConsole();
  const allowed = useAllowed('lineup.set');
  const [name, setName] = useState('');
  const [price, setPrice] = useState('');
  const [stock, setStock] = useState('');
  const [points, setPoints] = useState('');
  if (!allowed) return null;
  const products = store.lineup.value.products;
  const toInput = (p: Product) => ({
    id: p.id,
    name: p.name,
    price: p.price,
    currency: p.currency,
    stock: p.stock,
    talkingPoints: p.talkingPoints,
  });
  const save = (next: ReturnType<typeof toInput>[]) =>
    connection.send('lineup-set', { kind: 'lineup.set', products: next });
  return (
    <Panel title="Lineup editor" class="lineup-editor">
      <ul>
        {products.map((p, i) => (
          <li key={p.id}>
            {p.name} · {formatPrice(p)} · stock {p.stock}{' '}
            <button
              type="button"
              disabled={i === 0}
              onClick={() => save(swap(products.map(toInput), i, i - 1))}
              aria-label={`Move ${p.name} up`}
            >
              ↑
            </button>
            <button
              type="button"
              onClick={() => save(products.filter((x) => x.id !== p.id).map(toInput))}
              aria-label={`Remove ${p.name}`}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const cents = Math.round(Number(price) * 100);
          if (!name.trim() || !Number.isFinite(cents)) return;
          const id = `p-${name
            .trim()
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, '-')
            .slice(0, 40)}-${Date.now().toString(36)}`;
          save([
            ...products.map(toInput),
            {
              id,
              name: name.trim(),
              price: cents,
              currency: 'USD',
              stock: Math.max(0, Math.round(Number(stock) || 0)),
              talkingPoints: points
                .split('\n')
                .map((s) => s.trim())
                .filter(Boolean),
            },
          ]);
          setName('');
          setPrice('');
          setStock('');
          setPoints('');
        }}
      >
        <label>
          Product <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Price{' '}
          <input value={price} inputMode="decimal" onInput={(e) => setPrice((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Stock{' '}
          <input value={stock} inputMode="numeric" onInput={(e) => setStock((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Talking points (one per line){' '}
          <textarea value={points} onInput={(e) => setPoints((e.target as HTMLTextAreaElement).value)} />
        </label>
        <button type="submit">Add product</button>
      </form>
      <ActionError action="lineup-set" />
    </Panel>
  );
}

function swap<T>(items: T[], a: number, b: number): T[] {
  const out = [...items];
  const x = out[a];
  const y = out[b];
  if (x === undefined || y === undefined) return out;
  out[a] = y;
  out[b] = x;
  return out;
}

export function PresencePanel() {
  const { store } = useConsole();
  const people = Object.values(store.presence.value).sort((a, b) => a.role.localeCompare(b.role));
  return (
    <Panel title="Crew on consoles">
      <p role="status" class="meta">
        {people.length} people online
      </p>
      <ul>
        {people.map((p) => (
          <li key={p.personId}>
            <span class="badge">{p.role}</span> {p.name} · {p.consoles.length} console
            {p.consoles.length === 1 ? '' : 's'} since {time(p.since)}
          </li>
        ))}
      </ul>
    </Panel>
  );
}

export function ActivityPanel() {
  const { store } = useConsole();
  return (
    <Panel title="Activity" class="activity">
      <ol class="feed" aria-label="Session events, newest first" tabIndex={0}>
        {store.activity.value.slice(0, 100).map((a) => (
          <li key={a.seq}>
            <span class="meta">
              #{a.seq} {time(a.at)}
            </span>{' '}
            {a.actor}: {a.summary}
          </li>
        ))}
      </ol>
    </Panel>
  );
}
