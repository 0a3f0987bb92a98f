import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentEvent, ApiErrorBody } from '../../src-shared/api.js';
import { CallTable } from '../../src-shared/callTable.js';

class Answered extends Error {
  constructor(readonly body: ApiErrorBody) {
    super(body.message);
  }
}

test('a call table numbers requests, settles each by its answer, and passes events and stray errors on', async () => {
  const stray: ApiErrorBody[] = [];
  const table = new CallTable((body) => new Answered(body), (body) => stray.push(body));
  const first = table.request('status.get', {});
  const second = table.request('plans.delete', { id: 'x' });
  assert.deepEqual([first.message, second.message.id], [{ type: 'request', id: 1, method: 'status.get', params: {} }, 2]);

  // Answers may come in any order.
  assert.equal(table.receive({ type: 'response', id: 2, ok: false, error: { code: 'E_PLAN_NOT_FOUND', message: 'no plan' } }), true);
  assert.equal(table.receive({ type: 'response', id: 1, ok: true, result: { state: 'idle' } }), true);
  assert.deepEqual(await first.answer, { state: 'idle' });
  await assert.rejects(second.answer, (err: Answered) => err instanceof Answered && err.body.code === 'E_PLAN_NOT_FOUND');

  // An error without a call (a line the agent could not read) is not lost; a second answer to a settled call is ignored.
  table.receive({ type: 'response', id: null, ok: false, error: { code: 'E_BAD_MESSAGE', message: 'not json' } });
  table.receive({ type: 'response', id: 1, ok: true, result: 'again' });
  assert.deepEqual(stray.map((e) => e.code), ['E_BAD_MESSAGE']);

  const events: AgentEvent[] = [];
  const stop = table.onEvent((event) => events.push(event));
  const event: AgentEvent = { type: 'error', code: 'E_X', message: 'x' };
  table.receive({ type: 'event', event });
  stop();
  table.receive({ type: 'event', event });
  assert.deepEqual(events, [event]);

  // Messages of the transport's own (the app's keychain requests, lifecycle notices) are left to it.
  assert.equal(table.receive({ type: 'ready' }), false);
  assert.equal(table.receive(undefined), false);

  const own = table.answerTo(41);
  const pending = table.request('status.get', {});
  table.failAll(new Error('gone'));
  await assert.rejects(own, /gone/);
  await assert.rejects(pending.answer, /gone/);
});
