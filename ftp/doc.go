// Package ftp is the protocol vocabulary shared by ferry's server and client:
// reply codes and errors, command-line parsing, the PORT/PASV/EPRT/EPSV
// address codecs, MLSx facts, LIST formatting and parsing, and the TYPE A
// line-ending converters.
package ftp
