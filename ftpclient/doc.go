// Package ftpclient is an FTP and FTPS client: context-first, safe for
// concurrent use, with a pool of logged-in control connections per [Client].
//
// # Dialing
//
// A Client is made by [Dial], which opens and logs in the first control
// connection and learns the server's features (FEAT) and the login
// directory (PWD). Options set the rest: [WithLogin] (anonymous by
// default), [WithTLS] or [WithImplicitTLS], [WithActive], [WithTimeout] (an
// inactivity limit on every wait for the server), [WithPoolSize],
// [WithKeepAlive], [WithDialer], and [WithLogger] and [WithDebug] to see
// what the client does.
//
// # Context first, pooled
//
// Every method takes a context.Context, borrows a control connection from
// the pool for the duration of the call and gives it back afterwards, so
// any number of goroutines can share one Client; at most WithPoolSize
// connections are open at a time. Cancelling the context ends the call,
// transfer included. Idle connections are checked with NOOP before reuse
// after a quiet spell, and a call whose connection broke is retried once on
// another one when nothing has been changed on the server yet.
// [Client.Open] keeps its connection until the returned reader is closed.
// [Client.Close] ends the idle connections with QUIT.
//
// Paths are sent absolute: a relative path is resolved against the login
// directory. The client never changes directory, which is what makes pooled
// connections interchangeable.
//
// # Errors
//
// Negative replies are returned as errors wrapping an [*ftp.Error], so
// errors.As finds the reply code and text. [IsNotExist] and [IsPermission]
// read the meaning of a 550, and errors.Is(err, fs.ErrNotExist) works too.
// Errors of calls about a path are [*fs.PathError]. [ErrUnsupported] is
// wrapped when the server does not implement what a call needs,
// [ErrProtocol] when its reply makes no sense, and [ErrClosed] is returned
// after Close. [Client.List] returns the entries it could parse together
// with a [*ListError] naming the lines it could not.
//
// # Data connections and TLS
//
// Data connections are passive by default (EPSV, then PASV if the server
// refuses it, remembered per Client), or active with WithActive. The
// address in a PASV reply is not trusted by default (see [WithTrustPASV]).
// FTPS is explicit (WithTLS: AUTH TLS, PBSZ 0, PROT P) or implicit
// (WithImplicitTLS); data connections resume the TLS session of their
// control connection, as servers that check session reuse require.
//
// # Transfer modes
//
// Transfers use stream mode unless a [TransferOption] says otherwise:
// [BlockMode] (MODE B) frames the data so its end is explicit and records
// restart markers in [Marks], from which a failed transfer resumes.
//
// # Between servers
//
// [FXP] has one server send a file straight to another (PASV on one, PORT
// on the other), each driven through a connection of its Client; with TLS
// on both, one server takes the TLS client role of the data connection
// (CPSV or SSCN). [Transfer] does the same and, when the servers refuse
// (an error wrapping [ErrFXPRefused]) or cannot reach each other, streams
// the file through the client instead. Their errors are [*TransferError],
// naming the server that failed.
package ftpclient
