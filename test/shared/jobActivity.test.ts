import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activityOf } from '../../src-shared/jobActivity.js';

test('the activity says what runs: each kind once, in the order started', () => {
  assert.equal(activityOf([]), undefined);
  assert.equal(activityOf([{ kind: 'backup' }]), 'Backing up');
  assert.equal(activityOf([{ kind: 'restore' }]), 'Restoring');
  assert.equal(activityOf([{ kind: 'prune' }, { kind: 'prune' }]), 'Pruning');
  assert.equal(activityOf([{ kind: 'check' }, { kind: 'backup' }]), 'Checking and backing up');
  assert.equal(activityOf([{ kind: 'backup' }, { kind: 'seed' }, { kind: 'restore' }]), 'Backing up, seeding a target and restoring');
});
