import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { hkdfSync } from 'node:crypto';
import { NonceKind, makeNonce, open } from '../../../src-main/engine/crypto/aead.js';
import type { MasterKey } from '../../../src-main/engine/crypto/masterKey.js';
import { parseKeyFile, unwrapKeyFile } from '../../../src-main/engine/repository/keyFile.js';
import { seededBytes } from '../../helpers/data.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

/** The master key, recovered the way any reader would: unwrap the key file with the password. */
async function masterKeyOf(path: string): Promise<MasterKey> {
  const [name] = await readdir(join(path, 'keys'));
  assert.ok(name);
  const master = await unwrapKeyFile(parseKeyFile(name, await readFile(join(path, 'keys', name))), TEST_PASSWORD);
  assert.ok(master);
  return master;
}

test('no two blobs or headers in any pack share a (key, nonce) pair', async (t) => {
  const { repository, path } = await createTestRepository(t, { packSize: 64 * 1024, compressionLevel: 0 });
  for (let i = 0; i < 120; i++) await repository.saveBlob('data', seededBytes(`n${i}`, 3000 + (i % 7) * 4000));
  await repository.flush();

  const master = await masterKeyOf(path);
  const pairs = new Set<string>();
  const packKeys = new Set<string>();
  let checked = 0;
  for (const { name } of repository.index.packs()) {
    const packId = Buffer.from(name, 'hex');
    const key = master.packKey(packId).export();
    assert.equal(packKeys.has(key.toString('hex')), false, 'two packs share a key');
    packKeys.add(key.toString('hex'));
    const bytes = await readFile(join(path, 'data', name.slice(0, 2), name));
    const header = await repository.readPackHeader(name);
    for (const blob of header) {
      // The construction: key = HKDF(master, pack id), nonce = (PackBlob, offset). Decrypting with exactly those proves they were used.
      const nonce = makeNonce(NonceKind.PackBlob, blob.offset);
      open(key, nonce, bytes.subarray(blob.offset, blob.offset + blob.length));
      const pair = `${key.toString('hex')}/${nonce.toString('hex')}`;
      assert.equal(pairs.has(pair), false, `(key, nonce) reused in pack ${name}`);
      pairs.add(pair);
      checked += 1;
    }
    const headerPair = `${key.toString('hex')}/${makeNonce(NonceKind.PackHeader, 0).toString('hex')}`;
    assert.equal(pairs.has(headerPair), false);
    pairs.add(headerPair);
  }
  assert.equal(checked, 120);
  assert.ok(packKeys.size > 5, `expected many packs, got ${packKeys.size}`);
  // The pack key really is HKDF-SHA256 of the master secret with the pack id as salt.
  const secret = master.exportSecret();
  const [first] = repository.index.packs();
  assert.ok(first);
  assert.deepEqual(Buffer.from(hkdfSync('sha256', secret, Buffer.from(first.name, 'hex'), 'hindsight v1 pack', 32)), master.packKey(Buffer.from(first.name, 'hex')).export());
});
