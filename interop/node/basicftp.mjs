// basicftp.mjs drives Node's basic-ftp client against a server for the
// interop tests (interop/basicftp_test.go), as a user's script would.
//
// Usage: node basicftp.mjs PORT SECURE CAFILE WORKDIR
//   SECURE is "tls" (explicit FTPS, AUTH TLS) or "plain"; CAFILE is the
//   server certificate's PEM (ignored when plain). WORKDIR holds up.bin.
//
// It lists "/", uploads up.bin as /up.bin, downloads /data.bin to
// WORKDIR/data.bin, uploads 50 empty files /empty/e-N.txt from memory and
// prints one JSON object: the listing and the errors seen per step. The Go
// test checks the bytes on both sides.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Client } from "basic-ftp";

const [port, secure, caFile, workDir] = process.argv.slice(2);
const result = { list: [], errors: [], emptyFailures: [] };

const client = new Client(20000);
try {
	await client.access({
		host: "127.0.0.1",
		port: Number(port),
		user: "alice",
		password: "secret",
		secure: secure === "tls",
		secureOptions: secure === "tls" ? { ca: [readFileSync(caFile)], servername: "localhost" } : undefined,
	});
	result.list = (await client.list("/")).map((f) => ({ name: f.name, size: f.size, dir: f.isDirectory }));
	await client.uploadFrom(join(workDir, "up.bin"), "/up.bin");
	await client.downloadTo(join(workDir, "data.bin"), "/data.bin");
	await client.ensureDir("/empty");
	for (let i = 0; i < 50; i++) {
		try {
			await client.uploadFrom(Readable.from([]), `e-${i}.txt`);
		} catch (err) {
			result.emptyFailures.push(`e-${i}.txt: ${err.message}`);
		}
	}
} catch (err) {
	result.errors.push(String(err && err.message ? err.message : err));
} finally {
	client.close();
}
console.log(JSON.stringify(result));
