// Drives ferry's SFTP server with Node's ssh2 (the library under
// ssh2-sftp-client), for interop/ssh2_test.go.
//
//   node ssh2sftp.mjs PORT USER PASSWORD HOSTKEY_BASE64 WORKDIR MODE
//
// The server's host key must be HOSTKEY_BASE64 (its SSH wire form).
// MODE "session" uploads WORKDIR/src.bin as /n.bin, reads it back into
// WORKDIR/back.bin, renames it to /m.bin, makes, lists and removes /nd,
// sets /m.bin's mode to 0640, writes and removes /gone.txt, and prints one
// JSON object of what it saw. MODE "badpass" prints whether the login with
// PASSWORD (a wrong one) was refused.
import { Client } from 'ssh2';
import path from 'node:path';

const [port, user, password, hostKey, work, mode] = process.argv.slice(2);
const expected = Buffer.from(hostKey, 'base64');

function connect() {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let negotiated;
    c.on('handshake', (n) => { negotiated = n; })
      .on('ready', () => resolve({ c, negotiated }))
      .on('error', reject)
      .connect({
        host: '127.0.0.1', port: Number(port), username: user, password,
        readyTimeout: 30000,
        hostVerifier: (key) => Buffer.compare(key, expected) === 0,
      });
  });
}

const call = (sftp, fn, ...args) => new Promise((resolve, reject) =>
  sftp[fn](...args, (err, v) => (err ? reject(err) : resolve(v))));

if (mode === 'badpass') {
  try {
    const { c } = await connect();
    c.end();
    console.log(JSON.stringify({ authFailed: false }));
  } catch (e) {
    console.log(JSON.stringify({ authFailed: e.level === 'client-authentication', error: e.message }));
  }
} else {
  const { c, negotiated } = await connect();
  const sftp = await new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
  await call(sftp, 'fastPut', path.join(work, 'src.bin'), '/n.bin');
  const put = await call(sftp, 'stat', '/n.bin');
  await call(sftp, 'fastGet', '/n.bin', path.join(work, 'back.bin'));
  await call(sftp, 'rename', '/n.bin', '/m.bin');
  await call(sftp, 'mkdir', '/nd');
  const listed = (await call(sftp, 'readdir', '/')).map((e) => e.filename).sort();
  await call(sftp, 'rmdir', '/nd');
  await call(sftp, 'chmod', '/m.bin', 0o640);
  const mode = (await call(sftp, 'stat', '/m.bin')).mode & 0o777;
  await call(sftp, 'writeFile', '/gone.txt', 'short-lived');
  await call(sftp, 'unlink', '/gone.txt');
  const removed = await call(sftp, 'stat', '/gone.txt').then(() => false, () => true);
  const after = (await call(sftp, 'readdir', '/')).map((e) => e.filename).sort();
  console.log(JSON.stringify({
    cipher: negotiated.sc.cipher, putSize: put.size, listed, mode, removed, after,
  }));
  c.end();
}
