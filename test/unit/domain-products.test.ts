import { describe, expect, it } from 'vitest';
import { Room, cohost, expectReplayMatches, ingest, ops } from './domain-harness.js';

const liveWithLineup = () => new Room().goLive().lineup();

describe('lineup', () => {
  it('can be loaded before the show, with defaults and sold-out derived from stock', () => {
    const room = new Room().lineup();
    expect(room.state.lineup.map((p) => [p.id, p.currency, p.talkingPoints.length, p.soldOut])).toEqual([
      ['p1', 'USD', 1, false],
      ['p2', 'USD', 0, false],
      ['p3', 'USD', 0, true],
    ]);
  });

  it('refuses duplicate product ids as invalid input, naming them', () => {
    const room = new Room();
    const error = room.refused(ops, {
      kind: 'lineup.set',
      products: [
        { id: 'p1', name: 'Kettle', price: 1, stock: 1 },
        { id: 'p1', name: 'Kettle again', price: 1, stock: 1 },
      ],
    });
    expect(error).toMatchObject({ code: 'invalid_command', message: expect.stringContaining("'p1'") });
  });

  it('keeps the product on screen when it stays in the lineup, clears it when it goes', () => {
    const room = liveWithLineup();
    room.ok(cohost, { kind: 'product.switch', productId: 'p2' });
    room.ok(ops, { kind: 'lineup.set', products: [{ id: 'p2', name: 'Teapot', price: 2500, stock: 3 }] });
    expect(room.state.currentProductId).toBe('p2');
    room.ok(ops, { kind: 'lineup.set', products: [{ id: 'p4', name: 'Tray', price: 900, stock: 8 }] });
    expect(room.state.currentProductId).toBeNull();
    expectReplayMatches(room);
  });
});

describe('switching the product on screen', () => {
  it('carries the previous product (none at first) and the next one', () => {
    const room = liveWithLineup();
    const first = room.one(cohost, { kind: 'product.switch', productId: 'p1' });
    expect(first).toMatchObject({ kind: 'product.switched', previous: null, next: { id: 'p1', name: 'Kettle' } });
    const second = room.one(ops, { kind: 'product.switch', productId: 'p2' });
    expect(second).toMatchObject({ previous: { id: 'p1' }, next: { id: 'p2' } });
    expect(room.state.currentProductId).toBe('p2');
  });

  it('refuses switching to the product already on screen, or one not in the lineup', () => {
    const room = liveWithLineup();
    room.ok(cohost, { kind: 'product.switch', productId: 'p1' });
    expect(room.refused(cohost, { kind: 'product.switch', productId: 'p1' })).toMatchObject({
      code: 'conflict',
      message: '"Kettle" is already the current product.',
    });
    expect(room.refused(cohost, { kind: 'product.switch', productId: 'p9' })).toMatchObject({
      code: 'not_found',
      message: "No product 'p9' in the lineup.",
    });
  });

  it('shows the product as it is now, after a price change', () => {
    const room = liveWithLineup();
    room.ok(ops, { kind: 'product.set_price', productId: 'p2', price: 1900 });
    expect(room.one(cohost, { kind: 'product.switch', productId: 'p2' })).toMatchObject({ next: { price: 1900 } });
  });
});

describe('price and stock', () => {
  it('records the previous price and refuses the same price', () => {
    const room = liveWithLineup();
    const event = room.one(ops, { kind: 'product.set_price', productId: 'p1', price: 3900 });
    expect(event).toMatchObject({
      kind: 'product.price_changed',
      product: { id: 'p1', price: 3900 },
      previousPrice: 4900,
    });
    expect(room.state.lineup[0]?.price).toBe(3900);
    expect(room.refused(ops, { kind: 'product.set_price', productId: 'p1', price: 3900 }).code).toBe('conflict');
  });

  it('announces a sell-out when stock reaches zero, right after the stock change', () => {
    const room = liveWithLineup();
    const events = room.ok(ingest, { kind: 'product.set_stock', productId: 'p2', stock: 0 });
    expect(events.map((e) => e.kind)).toEqual(['product.stock_changed', 'product.sold_out']);
    expect(events[0]).toMatchObject({ previousStock: 3, product: { stock: 0, soldOut: true } });
    expect(events[1]!.seq).toBe(events[0]!.seq + 1);
    expect(room.state.lineup.find((p) => p.id === 'p2')).toMatchObject({ stock: 0, soldOut: true });
  });

  it('back in stock is a plain stock change that clears sold-out', () => {
    const room = liveWithLineup();
    const events = room.ok(ops, { kind: 'product.set_stock', productId: 'p3', stock: 20 });
    expect(events.map((e) => e.kind)).toEqual(['product.stock_changed']);
    expect(room.state.lineup.find((p) => p.id === 'p3')).toMatchObject({ stock: 20, soldOut: false });
  });

  it('a decrease that leaves stock is no sell-out; the same stock is refused', () => {
    const room = liveWithLineup();
    expect(room.ok(ingest, { kind: 'product.set_stock', productId: 'p1', stock: 4 }).map((e) => e.kind)).toEqual([
      'product.stock_changed',
    ]);
    expect(room.refused(ingest, { kind: 'product.set_stock', productId: 'p1', stock: 4 }).code).toBe('conflict');
    expect(room.refused(ingest, { kind: 'product.set_stock', productId: 'nope', stock: 4 }).code).toBe('not_found');
  });
});
