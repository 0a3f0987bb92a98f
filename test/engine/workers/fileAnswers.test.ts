import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BLOB_ID_LENGTH } from '../../../src-main/engine/crypto/blobId.js';
import { CHUNK_FIELDS, ChunkField, ChunkKind, END_FIELDS, EndField, FileAnswersOutbox, fileEnd, transferables, type FileEnd } from '../../../src-main/engine/workers/fileAnswers.js';

test('a worker\'s answers come back as gathered: chunks in order, each file ended after its own, notes for the rare fields', () => {
  const outbox = new FileAnswersOutbox();
  assert.equal(outbox.empty, true);
  // More chunks and ends than the outbox starts with room for, so it grows mid-way.
  const sent: { chunks: { kind: number; id: Buffer; rawLength: number; body?: Uint8Array }[]; end: FileEnd }[] = [];
  for (let file = 0; file < 300; file++) {
    const chunks = Array.from({ length: file % 7 }, (_, i) => {
      const kind = [ChunkKind.ring, ChunkKind.stored, ChunkKind.aside][(file + i) % 3] as number;
      return { kind, id: Buffer.alloc(BLOB_ID_LENGTH, (file * 7 + i) % 251), rawLength: 1000 + file + i, ...(kind === ChunkKind.aside ? { body: new Uint8Array([file % 256, i]) } : {}) };
    });
    const end: FileEnd =
      file % 50 === 3
        ? { type: 'failed', code: 'EACCES', message: `file ${file} denied` }
        : { type: 'done', bytes: file * 100, chunked: file * 10, size: BigInt(file) * 1_000_000_000n, mtimeNs: -BigInt(file) - 1n, ...(file % 40 === 5 ? { flags: { system: 'linux', value: 0x10 } as const } : {}) };
    for (const chunk of chunks) outbox.chunk(chunk.kind, chunk.id, chunk.kind === ChunkKind.ring ? file : 0, 10 + file, chunk.kind === ChunkKind.ring ? 12 + file : 0, chunk.rawLength, file % 2 === 0, chunk.body);
    outbox.end(end);
    sent.push({ chunks, end });
  }
  // One more chunk of a file not yet ended: it comes after the last end.
  outbox.chunk(ChunkKind.ring, Buffer.alloc(BLOB_ID_LENGTH, 9), 5, 6, 7, 8, true);
  const answers = outbox.take();
  assert.equal(outbox.empty, true, 'taking empties the outbox');
  assert.equal(transferables(answers).length, 4 + answers.aside.length);
  let chunk = 0;
  let aside = 0;
  let note = 0;
  for (const [file, { chunks, end }] of sent.entries()) {
    for (const expected of chunks) {
      const c = chunk * CHUNK_FIELDS;
      assert.equal(answers.chunks[c + ChunkField.kind], expected.kind);
      assert.equal(answers.chunks[c + ChunkField.rawLength], expected.rawLength);
      assert.equal(answers.chunks[c + ChunkField.compressed], file % 2 === 0 ? 1 : 0);
      assert.ok(Buffer.from(answers.ids.subarray(chunk * BLOB_ID_LENGTH, (chunk + 1) * BLOB_ID_LENGTH)).equals(expected.id));
      if (expected.body) assert.deepEqual(answers.aside[aside++], expected.body);
      chunk += 1;
    }
    assert.equal(answers.ends[file * END_FIELDS + EndField.before], chunk);
    const noted = answers.notes[note]?.end === file ? answers.notes[note++] : undefined;
    assert.deepEqual(fileEnd(answers, file, noted), end);
  }
  assert.equal(note, answers.notes.length, 'every note read');
  assert.equal(answers.chunks.length / CHUNK_FIELDS, chunk + 1, 'the unended file\'s chunk follows');
  assert.equal(answers.ends.length / END_FIELDS, sent.length);
});
