// Package sftpclient is ferry's SFTP client: the operations of
// [ftpclient.Client] (list, stat, walk, retrieve, store, rename, times)
// over SSH, so that the ferry commands and package mirror serve sftp://
// URLs the way they serve ftp:// ones.
//
// [Dial] connects and logs in with a password (or a callback asking for
// one), public keys ([LoadDefaultIdentities], [LoadIdentity]) and the
// keys of a running ssh-agent ([AgentSigners]). The server's host key is
// checked as OpenSSH checks it, against ~/.ssh/known_hosts and
// /etc/ssh/ssh_known_hosts (hashed entries, "[host]:port" for ports
// other than 22, @revoked): an unknown host is refused, or with
// [AcceptNew] added to the user's file; a changed key is always refused
// ([ErrHostKeyChanged]).
//
// Paths are those of the SFTP server; relative ones are taken from the
// login directory ([Client.Home]). Errors wrap fs.ErrNotExist and
// fs.ErrPermission when the server says so, so that
// [ftpclient.IsNotExist] and [ftpclient.IsPermission] work on them.
//
// Transfers use pkg/sftp's pipelined reads and writes. SSH has no way to
// abort a request in flight, so a transfer whose context ends closes the
// connection it ran on; the Client dials a new one for the next call.
//
// This package, not ftpclient, links golang.org/x/crypto/ssh: programs
// that speak only FTP do not carry it.
package sftpclient
