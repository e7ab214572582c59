// Package interop tests the ferry server against real FTP clients: curl,
// lftp, the Debian ftp client, Python's ftplib, Node's basic-ftp (pinned
// in node/package-lock.json) and github.com/jlaffaye/ftp.
//
// Each test starts an ftpserver.Server on 127.0.0.1 over a temporary local
// directory and checks what a user would see: the bytes that end up on
// disk and the reply codes the client reports. A test whose client binary
// is missing is skipped on a developer machine and fails when CI is set
// (scripts/test installs the clients).
package interop
