/**
 * The Timers heap on a FakeClock: deadline order (ties in insertion order), one armed clock timer
 * at a time, cancellation, timers added by a firing timer, sleep with an AbortSignal, clear();
 * and FakeClock itself (advance, pending, sleep, settle).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, settle } from './clock.ts';
import { Timers } from './timers.ts';

const START = Date.UTC(2026, 0, 1);

function setup(): { clock: FakeClock; timers: Timers; fired: string[] } {
  const clock = new FakeClock(START);
  return { clock, timers: new Timers(clock), fired: [] };
}

describe('Timers', () => {
  test('fires in deadline order whatever the insertion order', async () => {
    const { clock, timers, fired } = setup();
    // A deterministic shuffle of 200 deadlines.
    const deadlines = Array.from({ length: 200 }, (_, i) => ((i * 7919) % 200) * 10);
    for (const d of deadlines) timers.at(START + d, () => fired.push(String(d)));
    assert.equal(timers.size, 200);
    await clock.advance(2000);
    const sorted = [...deadlines].sort((a, b) => a - b).map(String);
    assert.deepEqual(fired, sorted);
    assert.equal(timers.size, 0);
  });

  test('equal deadlines fire in the order they were added', async () => {
    const { clock, timers, fired } = setup();
    for (const name of ['a', 'b', 'c', 'd']) timers.at(START + 100, () => fired.push(name));
    timers.at(START + 50, () => fired.push('early'));
    await clock.advance(100);
    assert.deepEqual(fired, ['early', 'a', 'b', 'c', 'd']);
  });

  test('nothing fires before its deadline', async () => {
    const { clock, timers, fired } = setup();
    timers.after(1000, () => fired.push('x'));
    await clock.advance(999);
    assert.deepEqual(fired, []);
    await clock.advance(1);
    assert.deepEqual(fired, ['x']);
  });

  test('keeps a single clock timer armed, for the earliest deadline', () => {
    const { clock, timers } = setup();
    timers.at(START + 300, () => undefined);
    timers.at(START + 100, () => undefined);
    timers.at(START + 200, () => undefined);
    // Re-arming cancels the previous clock timer, so one deadline is pending: the earliest.
    assert.deepEqual(clock.pending(), [START + 100]);
  });

  test('a cancelled timer does not fire; the others still do', async () => {
    const { clock, timers, fired } = setup();
    const cancelA = timers.at(START + 10, () => fired.push('a'));
    timers.at(START + 20, () => fired.push('b'));
    const cancelC = timers.at(START + 30, () => fired.push('c'));
    cancelA();
    cancelC();
    cancelC(); // twice is harmless
    await clock.advance(100);
    assert.deepEqual(fired, ['b']);
  });

  test('cancelling the earliest timer re-arms for the next one', async () => {
    const { clock, timers, fired } = setup();
    const cancel = timers.at(START + 10, () => fired.push('first'));
    timers.at(START + 500, () => fired.push('second'));
    cancel();
    await clock.advance(10);
    assert.deepEqual(fired, []);
    assert.deepEqual(clock.pending(), [START + 500]);
    await clock.advance(490);
    assert.deepEqual(fired, ['second']);
  });

  test('a deadline in the past fires on the next turn', async () => {
    const { clock, timers, fired } = setup();
    timers.at(START - 5000, () => fired.push('late'));
    await clock.advance(0);
    assert.deepEqual(fired, ['late']);
  });

  test('a timer added by a firing timer fires in the same advance when due', async () => {
    const { clock, timers, fired } = setup();
    timers.after(10, () => {
      fired.push('outer');
      timers.after(5, () => fired.push('inner'));
      timers.after(500, () => fired.push('later'));
    });
    await clock.advance(20);
    assert.deepEqual(fired, ['outer', 'inner']);
    await clock.advance(500);
    assert.deepEqual(fired, ['outer', 'inner', 'later']);
  });

  test('a timer added earlier than the armed one re-arms the clock', async () => {
    const { clock, timers, fired } = setup();
    timers.after(1000, () => fired.push('slow'));
    timers.after(10, () => fired.push('fast'));
    await clock.advance(10);
    assert.deepEqual(fired, ['fast']);
    assert.equal(clock.now(), START + 10);
  });

  test('the clock reads the deadline inside a callback', async () => {
    const { clock, timers } = setup();
    const seen: number[] = [];
    timers.after(30, () => seen.push(clock.now()));
    timers.after(70, () => seen.push(clock.now()));
    await clock.advance(100);
    assert.deepEqual(seen, [START + 30, START + 70]);
    assert.equal(clock.now(), START + 100);
  });

  test('clear() drops every timer and disarms the clock', async () => {
    const { clock, timers, fired } = setup();
    timers.after(10, () => fired.push('a'));
    timers.after(20, () => fired.push('b'));
    timers.clear();
    assert.equal(timers.size, 0);
    await clock.advance(100);
    assert.equal(fired.length, 0);
    timers.after(10, () => fired.push('after clear'));
    await clock.advance(10);
    assert.deepEqual(fired, ['after clear']);
  });

  test('sleep resolves at its deadline', async () => {
    const { clock, timers } = setup();
    let woke = false;
    const p = timers.sleep(1000).then(() => (woke = true));
    await clock.advance(999);
    assert.equal(woke, false);
    await clock.advance(1);
    await p;
    assert.equal(woke, true);
  });

  test('sleep rejects with the signal reason when aborted, and its timer is dropped', async () => {
    const { clock, timers, fired } = setup();
    const controller = new AbortController();
    const p = timers.sleep(1000, controller.signal);
    timers.after(2000, () => fired.push('other'));
    controller.abort('cancelled');
    await assert.rejects(p, (e) => e === 'cancelled');
    await clock.advance(2000);
    assert.deepEqual(fired, ['other']);
  });

  test('sleep with an aborted signal rejects at once', async () => {
    const { timers } = setup();
    const controller = new AbortController();
    controller.abort('timeout');
    await assert.rejects(timers.sleep(10, controller.signal), (e) => e === 'timeout');
    assert.equal(timers.size, 0);
  });

  test('a negative sleep resolves on the next turn', async () => {
    const { clock, timers } = setup();
    let woke = false;
    void timers.sleep(-50).then(() => (woke = true));
    await clock.advance(0);
    assert.equal(woke, true);
  });
});

describe('FakeClock', () => {
  test('starts where told and only moves on advance', async () => {
    const clock = new FakeClock(1234);
    assert.equal(clock.now(), 1234);
    await settle();
    assert.equal(clock.now(), 1234);
    await clock.advance(66);
    assert.equal(clock.now(), 1300);
  });

  test('fires timers in deadline order, then insertion order, and lists pending ones', async () => {
    const clock = new FakeClock(0);
    const fired: string[] = [];
    clock.setTimer(() => fired.push('b'), 20);
    clock.setTimer(() => fired.push('a'), 10);
    clock.setTimer(() => fired.push('c'), 20);
    const cancel = clock.setTimer(() => fired.push('never'), 15);
    cancel();
    assert.deepEqual(clock.pending(), [10, 20, 20]);
    await clock.advance(15);
    assert.deepEqual(fired, ['a']);
    await clock.advance(5);
    assert.deepEqual(fired, ['a', 'b', 'c']);
    assert.deepEqual(clock.pending(), []);
  });

  test('lets promises settle between timers, so a callback can chain a wait', async () => {
    const clock = new FakeClock(0);
    const steps: number[] = [];
    const chain = async (): Promise<void> => {
      await clock.sleep(10);
      steps.push(clock.now());
      await clock.sleep(10);
      steps.push(clock.now());
    };
    const done = chain();
    await clock.advance(25);
    await done;
    assert.deepEqual(steps, [10, 20]);
  });

  test('sleep rejects when its signal aborts', async () => {
    const clock = new FakeClock(0);
    const controller = new AbortController();
    const p = clock.sleep(100, controller.signal);
    controller.abort('stop');
    await assert.rejects(p, (e) => e === 'stop');
    assert.deepEqual(clock.pending(), []);
  });
});
