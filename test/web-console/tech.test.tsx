// @vitest-environment happy-dom
import { cleanup, fireEvent, screen } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { healthLevel } from '../../web-console/src/health.js';
import { incident, liveState, renderRole, NOW } from './support.js';
import { now } from '../../web-console/src/clock.js';

afterEach(cleanup);

const sample = (ts: number, bitrateKbps = 4500, fps = 30, droppedFrames = 0) => ({
  ts,
  bitrateKbps,
  fps,
  droppedFrames,
});

describe('stream health', () => {
  it('tells no data, offline, healthy, degraded and critical apart', () => {
    expect(healthLevel(null, [], 4500, NOW)).toBe('no-data');
    expect(healthLevel(sample(NOW - 60_000), [], 4500, NOW)).toBe('offline');
    expect(healthLevel(sample(NOW), [], 4500, NOW)).toBe('healthy');
    expect(healthLevel(sample(NOW, 3000), [], 4500, NOW)).toBe('degraded');
    expect(healthLevel(sample(NOW, 1000), [], 4500, NOW)).toBe('critical');
    expect(healthLevel(sample(NOW, 4500, 10), [], 4500, NOW)).toBe('critical');
  });
});

describe('tech view', () => {
  it('shows "No data" as its own state, not healthy', () => {
    renderRole('tech', liveState());
    const pill = screen.getByText(/Stream:/).closest('[data-health]')!;
    expect(pill.getAttribute('data-health')).toBe('no-data');
    expect(pill.textContent).toContain('No data');
    expect(pill.getAttribute('role')).toBe('status');
  });

  it('marks a critical stream as an alert with icon and text', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    now.value = NOW;
    const s = sample(NOW, 500, 30);
    renderRole('tech', liveState({ health: { latest: s, window: [s], targetBitrateKbps: 4500 } }));
    const pill = screen.getByRole('alert');
    expect(pill.textContent).toContain('Critical');
    expect(screen.getByText(/Bitrate:/).textContent).toContain('500 kbps');
    vi.useRealTimers();
  });

  it('lists incidents with acknowledge, resolve, severity, assign and note, and raises one', () => {
    const { sent } = renderRole('tech', liveState({ incidents: { i1: incident('i1', { title: 'Audio drift' }) } }));
    expect(screen.getByText('Audio drift')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Acknowledge' }));
    fireEvent.click(screen.getByRole('button', { name: 'Make sev1' }));
    fireEvent.click(screen.getByRole('button', { name: 'Assign to me' }));
    fireEvent.click(screen.getByRole('button', { name: 'Resolve' }));
    fireEvent.input(screen.getByLabelText(/^Note/), { target: { value: 'Resynced audio' } });
    fireEvent.submit(screen.getByRole('button', { name: 'Add note' }).closest('form')!);
    fireEvent.input(screen.getByLabelText(/Raise an incident/), { target: { value: 'Encoder hot' } });
    fireEvent.submit(screen.getByRole('button', { name: 'Raise' }).closest('form')!);
    expect(sent.map((s) => s.command.kind)).toEqual([
      'incident.acknowledge',
      'incident.set_severity',
      'incident.assign',
      'incident.resolve',
      'incident.add_note',
      'incident.raise',
    ]);
    expect(sent[2]?.command).toEqual({ kind: 'incident.assign', incidentId: 'i1', assignee: 'Pat (tech)' });
  });

  it('offers a forced resolve, saying so, while a health-rule signal still breaches', () => {
    const signal = {
      rule: 'bitrate' as const,
      breaching: true,
      since: NOW,
      clearedAt: null,
      sample: null,
      context: { productId: null, productName: null, viewers: null, techOnDuty: [] },
    };
    const { sent } = renderRole('tech', liveState({ incidents: { i1: incident('i1', { signal }) } }));
    expect(screen.getByText(/bitrate still breaching/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Force resolve' }));
    expect(sent[0]?.command).toEqual({ kind: 'incident.resolve', incidentId: 'i1', force: true });
  });

  it('offers no question triage or lineup switching', () => {
    renderRole('tech', liveState());
    expect(screen.queryByText('Question queue')).toBeNull();
    expect(screen.queryByRole('button', { name: /Switch|Flag/ })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Send cue' })).toBeNull();
  });
});
