import { describe, expect, it } from 'vitest';
import { bucketQuantileMs, type Buckets } from '../../bench/load.js';

/** Cumulative buckets as Prometheus exposes them: upper bound (s) → count at or below it. */
const buckets = (pairs: [number, number][]): Buckets => new Map(pairs);

describe('bench: quantiles of the server’s fan-out histogram between two scrapes', () => {
  const before = buckets([
    [0.001, 10],
    [0.005, 10],
    [0.01, 10],
    [Infinity, 10],
  ]);
  // Between the scrapes: 40 events at or under 1 ms, 40 more under 5 ms, 20 under 10 ms.
  const after = buckets([
    [0.001, 50],
    [0.005, 90],
    [0.01, 110],
    [Infinity, 110],
  ]);

  it('counts only what happened between the scrapes, interpolating inside a bucket', () => {
    expect(bucketQuantileMs(before, after, 0.4)).toBeCloseTo(1, 6); // the 40th of 100: top of the first bucket
    expect(bucketQuantileMs(before, after, 0.5)).toBeCloseTo(2, 6); // 10 of 40 into (1, 5] ms: a quarter of 4 ms past 1
    expect(bucketQuantileMs(before, after, 0.9)).toBeCloseTo(7.5, 6); // 10 of 20 into (5, 10] ms
    expect(bucketQuantileMs(undefined, after, 0.5)).toBeCloseTo(1 + (4 * 5) / 40, 6); // 55 of 110: 5 into (1, 5]
  });

  it('says infinite past the last finite bucket, and NaN when nothing was counted', () => {
    const slow = buckets([
      [0.001, 0],
      [Infinity, 10],
    ]);
    expect(bucketQuantileMs(undefined, slow, 0.5)).toBe(Infinity);
    expect(bucketQuantileMs(after, after, 0.5)).toBeNaN();
  });
});
