// Package ftpserver is an FTP and FTPS server library (RFC 959, 2228,
// 2389, 2428, 3659 and 4217).
//
// # Model
//
// A [Server] is configured through its exported fields and run with
// [Server.Serve] (or [Server.ListenAndServe], [Server.ServeTLS],
// [Server.ServeWith]) on a net.Listener; each control connection becomes a
// session with its own goroutine. The server knows
// nothing about users or storage itself. Two interfaces supply them:
//
//   - An [Authenticator] ([AuthFunc] adapts a plain function) checks USER and
//     PASS and returns an [Account]: the user's name, rights (Write, an
//     UploadDir for create-only areas, RequireTLS) and [FileSystem].
//   - A FileSystem is that user's view of storage. The server hands it
//     clean, absolute, slash-separated virtual paths, never ".." or a
//     relative name, and a context.Context first in every call, so a
//     backend honours cancellation and deadlines. storage/memfs and
//     storage/localfs implement it, and storage/storagetest checks a
//     backend against the contract.
//
// Optional capabilities are extra interfaces found by type assertion, as
// in net/http: a FileSystem may implement [Chmoder] (SITE CHMOD),
// [SpaceReporter] (AVBL) or [Hasher] (HASH from a stored checksum); an
// Authenticator may implement [CertAuthenticator] (login by a verified
// client certificate). A missing capability is answered with 502, or for
// Hasher by hashing the content on the server.
//
// # Errors and replies
//
// Command handlers return errors, and one place turns an error into the
// reply the client sees. An [*ftp.Error] is sent as its code and text;
// otherwise errors.Is picks the code: fs.ErrNotExist, fs.ErrPermission,
// fs.ErrExist, [ErrDirNotEmpty], [ErrIsDir] and [ErrNotDir] give 550,
// [ErrInvalidName] 553, [ErrQuota] 552, a full disk 452 and
// [ErrNotSupported] 502. Any other error is logged with the session's
// attributes and the client gets a generic 451: internal error text and
// host paths never reach the peer. An Authenticator returns
// [ErrAuthFailed] for bad credentials; the server answers 530 after
// [Server.LoginFailDelay].
//
// # Uploads
//
// [Server.Upload] chooses what a client sees at the target name while an
// upload runs and after it is cut short (see [UploadMode]): the default
// [UploadAtomicResume] and [UploadAtomic] write beside the target and rename
// on success; [UploadDirect] writes into the target. The server sends 226
// only after [FileWriter.Commit] has made the data durable, so a 226 means
// the file is on storage.
//
// # TLS
//
// Setting [Server.TLSConfig] enables explicit FTPS (AUTH TLS, PBSZ, PROT)
// on every listener; [Server.ServeTLS] serves implicit FTPS. A
// [TLSPolicy], for the whole server or per listener through ServeWith, can
// require TLS for login or for data. PROT P data connections must resume
// the TLS session of their own control connection unless
// [TLSPolicy.AllowUnresumedData] is set.
//
// # Stopping
//
// [Server.Shutdown] stops accepting, answers idle sessions 421 and lets
// running transfers finish, until its context is done; then it closes
// what is left. [Server.Close] closes every listener and session at once.
// Serve then returns [ErrServerClosed].
package ftpserver
