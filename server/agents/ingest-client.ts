import type { HealthSample } from '../../shared/model.js';

export interface IngestTarget {
  /** Base URL of Cueroom, e.g. http://localhost:8080 (env CUEROOM_URL). */
  url: string;
  /** The session the samples belong to (env CUEROOM_SESSION). */
  sessionId: string;
  /** An ingest (or tech) invite token of that session (env CUEROOM_TOKEN). */
  token: string;
}

/**
 * Posts health samples to `POST /v1/sessions/:id/ingest/health`. A failed post is kept
 * and sent with the next one (up to `maxBacklog` samples, oldest dropped first), so a
 * short Cueroom restart costs no samples.
 */
export class IngestClient {
  private backlog: HealthSample[] = [];

  constructor(
    private readonly target: IngestTarget,
    /** Samples kept while Cueroom cannot be reached. Default 100 (the endpoint's batch limit). */
    private readonly maxBacklog = 100,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  get pending(): number {
    return this.backlog.length;
  }

  /** Sends `samples` (and any backlog); resolves false when Cueroom did not take them. */
  async post(samples: HealthSample[]): Promise<boolean> {
    this.backlog.push(...samples);
    if (this.backlog.length > this.maxBacklog) this.backlog.splice(0, this.backlog.length - this.maxBacklog);
    if (this.backlog.length === 0) return true;
    const batch = this.backlog;
    const url = `${this.target.url.replace(/\/$/, '')}/v1/sessions/${encodeURIComponent(this.target.sessionId)}/ingest/health`;
    try {
      const response = await this.fetchImpl(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.target.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ samples: batch }),
        signal: AbortSignal.timeout(5000),
      });
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        // Refused for good (bad token, bad sample, ended session): retrying would not help.
        this.backlog = [];
        throw new IngestRefused(response.status, await response.text());
      }
      if (!response.ok) return false;
      this.backlog = this.backlog.slice(batch.length);
      return true;
    } catch (error) {
      if (error instanceof IngestRefused) throw error;
      return false;
    }
  }
}

export class IngestRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`Cueroom refused the samples (${status}): ${body.slice(0, 300)}`);
  }
}
