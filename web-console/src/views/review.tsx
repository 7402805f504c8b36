import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Review } from '../../../server/review/review.js';
import { formatDuration } from '../clock.js';
import { Panel, useConsole } from '../context.js';
import { SEVERITIES } from '../model-constants.js';
import { theme } from '../theme.js';
import { SEVERITY_ICON, canDraw } from './panels.js';

/*
 * The post-live review for people: GET /v1/sessions/:id/review (server/review/review.ts),
 * fetched with the console's own token. Every chart has its figures in a table next to it.
 */

const clock = (ms: number | null) =>
  ms === null ? '—' : new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const duration = (ms: number | null) => (ms === null ? '—' : formatDuration(ms));

export interface ChartMark {
  at: number;
  kind: 'incident' | 'product';
  label: string;
}

/** Incident raises and product switches, in time order: drawn on the health chart and listed under it. */
export function chartMarks(review: Review): ChartMark[] {
  const marks: ChartMark[] = [
    ...review.incidents.items.map((i) => ({
      at: i.raisedAt,
      kind: 'incident' as const,
      label: `${i.severity} ${i.title}`,
    })),
    ...review.products.flatMap((p) => p.onScreen.map((o) => ({ at: o.from, kind: 'product' as const, label: p.name }))),
  ];
  return marks.sort((a, b) => a.at - b.at);
}

function HealthChart({ review, marks }: { review: Review; marks: ChartMark[] }) {
  const box = useRef<HTMLDivElement>(null);
  const series = review.health.series;
  useEffect(() => {
    // No 2D canvas (a test DOM): the tables below carry the same figures.
    if (!box.current || !canDraw() || series.length === 0) return;
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue('--fg').trim() || '#ccc';
    const muted = css.getPropertyValue('--muted').trim() || '#999';
    const warn = css.getPropertyValue('--warn-fg').trim() || '#e0a000';
    let plot: uPlot | null = null;
    try {
      plot = new uPlot(
        {
          width: Math.max(320, box.current.clientWidth || 720),
          height: 220,
          legend: { show: true },
          scales: { kbps: {}, fps: {} },
          axes: [
            { stroke: muted },
            { scale: 'kbps', stroke: muted, label: 'kbps' },
            { scale: 'fps', side: 1, stroke: muted, label: 'fps', grid: { show: false } },
          ],
          series: [
            {},
            { label: 'Bitrate (kbps)', scale: 'kbps', stroke: fg, width: 1.5, points: { show: false } },
            { label: 'FPS', scale: 'fps', stroke: muted, width: 1, dash: [4, 3], points: { show: false } },
          ],
          hooks: {
            draw: [
              (u) => {
                const { ctx } = u;
                const { top, height } = u.bbox;
                ctx.save();
                for (const mark of marks) {
                  const x = Math.round(u.valToPos(mark.at / 1000, 'x', true));
                  ctx.strokeStyle = mark.kind === 'incident' ? warn : muted;
                  ctx.setLineDash(mark.kind === 'incident' ? [] : [2, 4]);
                  ctx.lineWidth = 1;
                  ctx.beginPath();
                  ctx.moveTo(x, top);
                  ctx.lineTo(x, top + height);
                  ctx.stroke();
                  ctx.fillStyle = ctx.strokeStyle;
                  ctx.fillText(mark.kind === 'incident' ? '▲' : '▸', x + 2, top + 10);
                }
                ctx.restore();
              },
            ],
          },
        },
        [series.map((p) => p.ts / 1000), series.map((p) => p.bitrateKbps), series.map((p) => p.fps)],
        box.current,
      );
    } catch {
      plot = null;
    }
    return () => plot?.destroy();
  }, [review, marks]);
  return <div ref={box} class="review-chart" aria-hidden="true" />;
}

function pct(part: number, whole: number): string {
  return whole === 0 ? '—' : `${Math.round((part / whole) * 100)}%`;
}

export function ReviewReport({ review }: { review: Review }) {
  const marks = chartMarks(review);
  const { session, questions: q, health, incidents } = review;
  const funnel = [
    { step: 'Received', count: q.received },
    { step: 'Flagged for the host', count: q.flagged },
    { step: 'Answered', count: q.answered },
    { step: 'Dismissed', count: q.dismissed },
  ];
  return (
    <div class="review">
      <Panel title="Session" class="review-session">
        <p role="status">
          “{session.title}” · {session.status} · live {duration(session.liveMs)} (from {clock(session.liveAt)} to{' '}
          {session.endedAt === null ? 'still live' : clock(session.endedAt)}) · {session.events} events
        </p>
      </Panel>

      <Panel title="Stream health over time" class="review-health">
        <p class="meta">
          Bitrate (solid) and fps (dashed); <span aria-hidden="true">▲</span> incident raised,{' '}
          <span aria-hidden="true">▸</span> product switched. {health.samples} samples.
        </p>
        {/* Keyed on the theme: drawn again in the new colours. */}
        <HealthChart key={theme.value} review={review} marks={marks} />
        {health.series.length === 0 ? <p class="empty">No health samples in this session.</p> : null}
        <table>
          <caption>Marks on the chart</caption>
          <thead>
            <tr>
              <th scope="col">time</th>
              <th scope="col">what</th>
              <th scope="col">detail</th>
            </tr>
          </thead>
          <tbody>
            {marks.map((m, i) => (
              <tr key={i} data-mark={m.kind}>
                <td>{clock(m.at)}</td>
                <td>
                  <span aria-hidden="true">{m.kind === 'incident' ? '▲' : '▸'}</span>{' '}
                  {m.kind === 'incident' ? 'incident raised' : 'on screen'}
                </td>
                <td>{m.label}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <table>
          <caption>Health figures (nearest rank)</caption>
          <thead>
            <tr>
              <th scope="col">metric</th>
              <th scope="col">min</th>
              <th scope="col">p10</th>
              <th scope="col">median</th>
              <th scope="col">p90</th>
              <th scope="col">max</th>
            </tr>
          </thead>
          <tbody>
            {(
              [
                ['Bitrate (kbps)', health.bitrateKbps],
                ['FPS', health.fps],
                ['Dropped frames', health.droppedFrames],
              ] as const
            ).map(([name, p]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{p.min ?? '—'}</td>
                <td>{p.p10 ?? '—'}</td>
                <td>{p.median ?? '—'}</td>
                <td>{p.p90 ?? '—'}</td>
                <td>{p.max ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p role="status" class={health.outages.length > 0 ? 'tag abnormal' : 'meta'}>
          {health.outages.length > 0 ? <span aria-hidden="true">✕ </span> : null}
          {health.outages.length} {health.outages.length === 1 ? 'outage' : 'outages'}, {duration(health.outageMs)} in
          all
        </p>
        {health.outages.length > 0 ? (
          <table>
            <caption>Outages</caption>
            <thead>
              <tr>
                <th scope="col">from</th>
                <th scope="col">to</th>
                <th scope="col">lasted</th>
                <th scope="col">cause</th>
              </tr>
            </thead>
            <tbody>
              {health.outages.map((o) => (
                <tr key={o.from} data-outage={o.cause}>
                  <td>{clock(o.from)}</td>
                  <td>{clock(o.to)}</td>
                  <td>{duration(o.durationMs)}</td>
                  <td>{o.cause === 'no_samples' ? 'no samples' : '0 kbps'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Panel>

      <Panel title="Q&A funnel" class="review-qa">
        <p role="status">
          {q.received} received → {q.flagged} flagged → {q.answered} answered, {q.dismissed} dismissed
        </p>
        <table class="funnel">
          <caption>Questions, from received to answered or dismissed</caption>
          <thead>
            <tr>
              <th scope="col">step</th>
              <th scope="col">questions</th>
              <th scope="col">of received</th>
            </tr>
          </thead>
          <tbody>
            {funnel.map((f) => (
              <tr key={f.step} data-step={f.step}>
                <th scope="row">{f.step}</th>
                <td>
                  <span class="bar" aria-hidden="true" style={{ width: pct(f.count, q.received) }} /> {f.count}
                </td>
                <td>{pct(f.count, q.received)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p class="meta">
          Time to answer: median {duration(q.timeToAnswer.median)}, p90 {duration(q.timeToAnswer.p90)} (
          {q.timeToAnswer.count} answered)
        </p>
        {q.unansweredFlagged.length > 0 ? (
          <>
            <h3>Flagged, never answered</h3>
            <ul>
              {q.unansweredFlagged.map((u) => (
                <li key={u.id}>
                  “{u.text}” <span class="meta">— {u.author}</span>
                </li>
              ))}
            </ul>
          </>
        ) : null}
      </Panel>

      <Panel title="Incidents" class="review-incidents">
        <p role="status">
          {incidents.total} {incidents.total === 1 ? 'incident' : 'incidents'}
        </p>
        <table>
          <caption>Incident durations</caption>
          <thead>
            <tr>
              <th scope="col">incident</th>
              <th scope="col">severity</th>
              <th scope="col">raised</th>
              <th scope="col">time to acknowledge</th>
              <th scope="col">time to resolve</th>
              <th scope="col">handled by</th>
            </tr>
          </thead>
          <tbody>
            {incidents.items.map((i) => (
              <tr key={i.id} data-incident={i.id}>
                <th scope="row">{i.title}</th>
                <td>
                  <span aria-hidden="true">{SEVERITY_ICON[i.severity]}</span> {i.severity}
                </td>
                <td>{clock(i.raisedAt)}</td>
                <td>{i.timeToAcknowledgeMs === null ? 'never acknowledged' : duration(i.timeToAcknowledgeMs)}</td>
                <td>{i.timeToResolveMs === null ? `not resolved (${i.status})` : duration(i.timeToResolveMs)}</td>
                <td>{[...new Set([i.acknowledgedBy, i.resolvedBy].filter(Boolean))].join(', ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <table>
          <caption>By severity (median / p90 / max)</caption>
          <thead>
            <tr>
              <th scope="col">severity</th>
              <th scope="col">count</th>
              <th scope="col">to acknowledge</th>
              <th scope="col">to resolve</th>
            </tr>
          </thead>
          <tbody>
            {SEVERITIES.map((s) => {
              const f = incidents.bySeverity[s];
              const three = (x: typeof f.timeToResolve) =>
                x.count === 0 ? '—' : `${duration(x.median)} / ${duration(x.p90)} / ${duration(x.max)}`;
              return (
                <tr key={s}>
                  <th scope="row">
                    <span aria-hidden="true">{SEVERITY_ICON[s]}</span> {s}
                  </th>
                  <td>{f.count}</td>
                  <td>{three(f.timeToAcknowledge)}</td>
                  <td>{three(f.timeToResolve)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Panel>

      <Panel title="Products" class="review-products">
        <table>
          <caption>Time on screen and changes per product</caption>
          <thead>
            <tr>
              <th scope="col">product</th>
              <th scope="col">on screen</th>
              <th scope="col">price changes</th>
              <th scope="col">stock changes</th>
              <th scope="col">sold out</th>
            </tr>
          </thead>
          <tbody>
            {review.products.map((p) => (
              <tr key={p.id} data-product={p.id}>
                <th scope="row">{p.name}</th>
                <td>{duration(p.onScreenMs)}</td>
                <td>{p.priceChanges.length}</td>
                <td>{p.stockChanges.length}</td>
                <td>{p.soldOutAt.length > 0 ? `✕ at ${p.soldOutAt.map(clock).join(', ')}` : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>

      <Panel title="Timeline" class="review-timeline">
        {/* Scrolls on its own: focusable so the keyboard can scroll it too. */}
        <div class="scroll" tabIndex={0} role="region" aria-label="Timeline entries">
          <table>
            <caption>Everything that happened, in order ({review.timeline.length} entries)</caption>
            <thead>
              <tr>
                <th scope="col">time</th>
                <th scope="col">who</th>
                <th scope="col">what</th>
              </tr>
            </thead>
            <tbody>
              {review.timeline.map((t) => (
                <tr key={t.seq}>
                  <td>{clock(t.at)}</td>
                  <td>
                    {t.actor} <span class="meta">({t.role})</span>
                  </td>
                  <td>{t.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </div>
  );
}

/** The review tab: fetches the report once (and on Refresh), then renders it. */
export function ReviewView() {
  const { store, loadReview } = useConsole();
  const sessionId = store.identity.value?.sessionId;
  const review = useSignal<Review | null>(null);
  const error = useSignal<string | null>(null);
  const loading = useSignal(false);
  const load = () => {
    if (!loadReview || !sessionId) return;
    loading.value = true;
    error.value = null;
    loadReview(sessionId)
      .then((r) => (review.value = r))
      .catch((e: unknown) => (error.value = e instanceof Error ? e.message : String(e)))
      .finally(() => (loading.value = false));
  };
  useEffect(load, [sessionId]);
  if (!loadReview) return <p class="empty">The review cannot be loaded here.</p>;
  return (
    <div class="review-view">
      <p>
        <button type="button" onClick={load} disabled={loading.value}>
          Refresh review
        </button>{' '}
        <span role="status" class="meta">
          {loading.value ? 'Loading the review…' : review.value ? `As of event ${review.value.session.lastSeq}` : ''}
        </span>
      </p>
      {error.value ? (
        <p class="action-error" role="alert">
          <span aria-hidden="true">⚠</span> Could not load the review: {error.value}
        </p>
      ) : null}
      {review.value ? <ReviewReport review={review.value} /> : null}
    </div>
  );
}

/** GET /v1/sessions/:id/review with the invite token as Bearer. */
export function reviewLoader(token: string, base = ''): (sessionId: string) => Promise<Review> {
  return async (sessionId) => {
    const response = await fetch(`${base}/v1/sessions/${encodeURIComponent(sessionId)}/review`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { message?: string } | null;
      throw new Error(body?.message ?? `HTTP ${response.status}`);
    }
    return (await response.json()) as Review;
  };
}
