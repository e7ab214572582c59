// Package ftpclient is an FTP and FTPS client: context-first, safe for
// concurrent use, with a pool of logged-in control connections per Client.
//
// A Client is made by Dial, which opens and logs in the first control
// connection and learns the server's features (FEAT) and the login
// directory (PWD). Every method takes a context.Context, borrows a control
// connection from the pool for the duration of the call and gives it back
// afterwards, so any number of goroutines can share one Client; at most
// WithPoolSize connections are open at a time.
//
// Paths are sent absolute: a relative path is resolved against the login
// directory. The client never changes directory, which is what makes pooled
// connections interchangeable.
//
// Negative replies are returned as errors wrapping an *ftp.Error, so
// errors.As finds the reply code and text. IsNotExist and IsPermission read
// the meaning of a 550, and errors.Is(err, fs.ErrNotExist) works too.
//
// Data connections are passive by default (EPSV, then PASV if the server
// refuses it, remembered per Client), or active with WithActive. FTPS is
// explicit (WithTLS: AUTH TLS, PBSZ 0, PROT P) or implicit
// (WithImplicitTLS); data connections resume the TLS session of their
// control connection, as servers that check session reuse require.
package ftpclient
