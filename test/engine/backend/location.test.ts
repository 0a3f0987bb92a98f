import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { test } from 'node:test';
import { backendFor, backendForTargets, parseLocation } from '../../../src-main/engine/backend/location.js';
import { ReplicatedBackend } from '../../../src-main/engine/backend/replicatedBackend.js';

test('folders, local:, sftp:// and the three s3 forms parse into their parts', () => {
  assert.deepEqual(parseLocation('/media/disk/repo'), { kind: 'local', path: '/media/disk/repo' });
  assert.deepEqual(parseLocation('relative/repo'), { kind: 'local', path: 'relative/repo' });
  assert.deepEqual(parseLocation('C:\\backups'), { kind: 'local', path: 'C:\\backups' });
  assert.deepEqual(parseLocation('local:/srv/repo'), { kind: 'local', path: '/srv/repo' });
  assert.deepEqual(parseLocation('sftp://ann@nas.example:2222/srv/backups/laptop'), { kind: 'sftp', host: 'nas.example', port: 2222, username: 'ann', path: '/srv/backups/laptop' });
  assert.deepEqual(parseLocation('sftp://nas/~/backups'), { kind: 'sftp', host: 'nas', port: 22, username: userInfo().username, path: 'backups' });
  assert.deepEqual(parseLocation('sftp://ann@[::1]/srv/my%20repo'), { kind: 'sftp', host: '::1', port: 22, username: 'ann', path: '/srv/my repo' });
  assert.deepEqual(parseLocation('s3://minio.lan:9000/backups/laptop/home'), { kind: 's3', endpoint: 'https://minio.lan:9000', bucket: 'backups', prefix: 'laptop/home' });
  assert.deepEqual(parseLocation('s3:http://127.0.0.1:9000/backups'), { kind: 's3', endpoint: 'http://127.0.0.1:9000', bucket: 'backups', prefix: '' });
  assert.deepEqual(parseLocation('s3:my-bucket/hindsight'), { kind: 's3', endpoint: undefined, bucket: 'my-bucket', prefix: 'hindsight' });
});

test('rest: locations keep their credentials apart from the URL, and backends are named without them', () => {
  assert.deepEqual(parseLocation('rest:http://nas.lan:8000/laptop'), { kind: 'rest', url: 'http://nas.lan:8000/laptop', username: undefined, password: undefined });
  assert.deepEqual(parseLocation('rest:https://ann:p%40ss%20word@backup.example/ann/laptop/'), { kind: 'rest', url: 'https://backup.example/ann/laptop/', username: 'ann', password: 'p@ss word' });
  assert.deepEqual(parseLocation('rest:http://[::1]:8000/'), { kind: 'rest', url: 'http://[::1]:8000/', username: undefined, password: undefined });
  // rclone: everything after the scheme is rclone's, remote and path alike (a local path or an on-the-fly remote too).
  assert.deepEqual(parseLocation('rclone:gdrive:backups/laptop'), { kind: 'rclone', remote: 'gdrive:backups/laptop' });
  assert.deepEqual(parseLocation('rclone::webdav,url=http\://nas:8080:repo'), { kind: 'rclone', remote: ':webdav,url=http\://nas:8080:repo' });
  assert.throws(() => parseLocation('rclone:'), { code: 'E_USAGE', message: 'An rclone: location is rclone:REMOTE:PATH, with a remote from "rclone listremotes".' });
  assert.equal(backendFor('rest:https://ann:secret@backup.example:8443/ann/laptop/').location, 'rest:https://backup.example:8443/ann/laptop');
  assert.equal(backendFor('rest:http://nas.lan:8000/').location, 'rest:http://nas.lan:8000');
  assert.throws(() => parseLocation('rest:nas.lan/x'), { code: 'E_USAGE', message: /^A rest: location is rest:http:\/\/host:port\/path/ });
  assert.throws(() => parseLocation('rest:ftp://ann:secret@nas.lan/x'), (err: Error) => !err.message.includes('secret'));
});

test('malformed and unknown locations are refused with what to write instead', () => {
  assert.throws(() => parseLocation(''), { code: 'E_USAGE', message: /empty/ });
  assert.throws(() => parseLocation('sftp://host'), { code: 'E_USAGE', message: /names no folder/ });
  assert.throws(() => parseLocation('sftp:///srv'), { code: 'E_USAGE', message: /names no host|not a valid/ });
  assert.throws(() => parseLocation('s3://host'), { code: 'E_USAGE', message: /names no bucket/ });
  assert.throws(() => parseLocation('s3:'), { code: 'E_USAGE', message: /names no bucket/ });
  assert.throws(() => parseLocation('ftp://host/x'), { code: 'E_USAGE', message: /Unknown repository location .*sftp:\/\/user@host\/path/ });
});

test('several locations make one replicated backend; the same target twice is refused', () => {
  const one = backendForTargets(['/tmp/a']);
  assert.ok(!(one instanceof ReplicatedBackend));
  const two = backendForTargets(['/tmp/a', 's3:http://127.0.0.1:1/b/p']);
  assert.ok(two instanceof ReplicatedBackend);
  assert.equal(two.location, '/tmp/a + s3:http://127.0.0.1:1/b/p');
  assert.throws(() => backendForTargets(['/tmp/a', 'local:/tmp/a']), { code: 'E_USAGE', message: /given twice/ });
  assert.equal(backendFor('sftp://ann@nas:2222/srv/x').location, 'sftp://ann@nas:2222/srv/x');
  assert.equal(backendFor('sftp://ann@nas/~/x').location, 'sftp://ann@nas/~/x');
});

test('azure: locations name a container and prefix, in the environment\'s account or a named one; bad names are refused before any request', () => {
  assert.deepEqual(parseLocation('azure:backups/laptop/home'), { kind: 'azure', account: undefined, container: 'backups', prefix: 'laptop/home' });
  assert.deepEqual(parseLocation('azure:backups'), { kind: 'azure', account: undefined, container: 'backups', prefix: '' });
  assert.deepEqual(parseLocation('azure://mystorage/backups/laptop/'), { kind: 'azure', account: 'mystorage', container: 'backups', prefix: 'laptop' });
  assert.equal(backendFor('azure:backups/laptop/').location, 'azure:backups/laptop');
  assert.equal(backendFor('azure://mystorage/backups').location, 'azure://mystorage/backups');
  assert.throws(() => parseLocation('azure:'), { code: 'E_USAGE', message: /names no container; write azure:container\/prefix/ });
  assert.throws(() => parseLocation('azure://mystorage'), { code: 'E_USAGE', message: /names no container; write azure:\/\/account\/container\/prefix/ });
  assert.throws(() => parseLocation('azure://My_Storage/backups'), { code: 'E_USAGE', message: /does not name a storage account \(3 to 24 lower-case letters and digits\)/ });
  assert.throws(() => parseLocation('azure:Backups/x'), { code: 'E_USAGE', message: /"Backups" is not a valid Azure container name/ });
  assert.throws(() => parseLocation('azure:a--b/x'), { code: 'E_USAGE', message: /not a valid Azure container name/ });
});
