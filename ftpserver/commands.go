package ftpserver

import (
	"sort"
	"strings"
)

// command describes one verb: its handler and when it may run.
type command struct {
	handler func(s *session, arg string) error
	// needLogin: answered 530 before login.
	needLogin bool
	// needArg: answered 501 when the argument is missing.
	needArg bool
	// path: the argument is a path; NUL, CR and LF are refused with 553.
	path bool
	// duringTransfer: runs at once even while a transfer is going on
	// (ABOR, STAT); every other command waits for the transfer's reply.
	duringTransfer bool
	// syntax is the HELP text.
	syntax string
}

var commandTable map[string]*command

func init() {
	loggedIn := func(h func(*session, string) error, syntax string) *command {
		return &command{handler: h, needLogin: true, syntax: syntax}
	}
	pathArg := func(h func(*session, string) error, syntax string) *command {
		return &command{handler: h, needLogin: true, needArg: true, path: true, syntax: syntax}
	}
	optPath := func(h func(*session, string) error, syntax string) *command {
		return &command{handler: h, needLogin: true, path: true, syntax: syntax}
	}
	commandTable = map[string]*command{
		// Access control (RFC 959 §4.1.1).
		"USER": {handler: cmdUSER, needArg: true, syntax: "USER <username>"},
		"PASS": {handler: cmdPASS, syntax: "PASS <password>"},
		"ACCT": {handler: cmdACCT, syntax: "ACCT <account>"},
		"HOST": {handler: cmdHOST, needArg: true, syntax: "HOST <host name>"},
		"REIN": {handler: cmdREIN, syntax: "REIN (reinitialize)"},
		"QUIT": {handler: cmdQUIT, syntax: "QUIT (end session)"},
		"CWD":  pathArg(cmdCWD, "CWD <directory>"),
		"XCWD": pathArg(cmdCWD, "XCWD <directory>"),
		"CDUP": loggedIn(cmdCDUP, "CDUP (go to parent directory)"),
		"XCUP": loggedIn(cmdCDUP, "XCUP (go to parent directory)"),
		"SMNT": loggedIn(cmdSMNT, "SMNT <path>"),
		"PWD":  loggedIn(cmdPWD, "PWD (print working directory)"),
		"XPWD": loggedIn(cmdPWD, "XPWD (print working directory)"),

		// Security extensions (RFC 2228, RFC 4217).
		"AUTH": {handler: cmdAUTH, needArg: true, syntax: "AUTH TLS"},
		"PBSZ": {handler: cmdPBSZ, needArg: true, syntax: "PBSZ 0"},
		"PROT": {handler: cmdPROT, needArg: true, syntax: "PROT <P|C>"},
		"CCC":  {handler: cmdCCC, needLogin: true, syntax: "CCC (clear command channel)"},
		"SSCN": {handler: cmdSSCN, syntax: "SSCN [ON|OFF] (TLS client role on data connections, for FXP)"},
		"CPSV": loggedIn(cmdCPSV, "CPSV (PASV with this server as the TLS client, for FXP)"),

		// Transfer parameters (§4.1.2, RFC 2428).
		"TYPE": {handler: cmdTYPE, needArg: true, syntax: "TYPE <A|E|I|L 8>"},
		"STRU": {handler: cmdSTRU, needArg: true, syntax: "STRU <F|R>"},
		"MODE": {handler: cmdMODE, needArg: true, syntax: "MODE <S|B|Z>"},
		"PASV": loggedIn(cmdPASV, "PASV (passive mode, IPv4)"),
		"EPSV": loggedIn(cmdEPSV, "EPSV [1|2|ALL]"),
		"PORT": {handler: cmdPORT, needLogin: true, needArg: true, syntax: "PORT h1,h2,h3,h4,p1,p2"},
		"EPRT": {handler: cmdEPRT, needLogin: true, needArg: true, syntax: "EPRT |proto|addr|port|"},

		// Service commands (§4.1.3, RFC 3659, RFC 1123).
		"RETR":    pathArg(cmdRETR, "RETR <file>"),
		"STOR":    pathArg(cmdSTOR, "STOR <file>"),
		"STOU":    optPath(cmdSTOU, "STOU [name]"),
		"APPE":    pathArg(cmdAPPE, "APPE <file>"),
		"ALLO":    loggedIn(cmdALLO, "ALLO <size>"),
		"REST":    {handler: cmdREST, needLogin: true, needArg: true, syntax: "REST <offset>"},
		"RNFR":    pathArg(cmdRNFR, "RNFR <from>"),
		"RNTO":    pathArg(cmdRNTO, "RNTO <to>"),
		"ABOR":    {handler: cmdABOR, duringTransfer: true, syntax: "ABOR (abort transfer)"},
		"DELE":    pathArg(cmdDELE, "DELE <file>"),
		"RMD":     pathArg(cmdRMD, "RMD <directory>"),
		"XRMD":    pathArg(cmdRMD, "XRMD <directory>"),
		"MKD":     pathArg(cmdMKD, "MKD <directory>"),
		"XMKD":    pathArg(cmdMKD, "XMKD <directory>"),
		"LIST":    optPath(cmdLIST, "LIST [-la] [path]"),
		"NLST":    optPath(cmdNLST, "NLST [path]"),
		"MLSD":    optPath(cmdMLSD, "MLSD [directory]"),
		"MLST":    optPath(cmdMLST, "MLST [path]"),
		"SITE":    {handler: cmdSITE, needArg: true, syntax: "SITE <HELP|CHMOD mode file>"},
		"SYST":    {handler: cmdSYST, syntax: "SYST (system type)"},
		"STAT":    {handler: cmdSTAT, duringTransfer: true, path: true, syntax: "STAT [path]"},
		"HELP":    {handler: cmdHELP, syntax: "HELP [command]"},
		"NOOP":    {handler: cmdNOOP, syntax: "NOOP"},
		"FEAT":    {handler: cmdFEAT, syntax: "FEAT (list features)"},
		"LANG":    {handler: cmdLANG, syntax: "LANG [language tag]"},
		"OPTS":    {handler: cmdOPTS, needArg: true, syntax: "OPTS <UTF8 ON|MLST facts|HASH algorithm|MODE Z LEVEL n>"},
		"SIZE":    pathArg(cmdSIZE, "SIZE <file>"),
		"MDTM":    pathArg(cmdMDTM, "MDTM <file>"),
		"MFMT":    {handler: cmdMFMT, needLogin: true, needArg: true, path: true, syntax: "MFMT YYYYMMDDHHMMSS <file>"},
		"HASH":    pathArg(cmdHASH, "HASH <file>"),
		"XSHA256": pathArg(hashVerb("XSHA256", "SHA-256"), "XSHA256 <file> [start end]"),
		"XSHA1":   pathArg(hashVerb("XSHA1", "SHA-1"), "XSHA1 <file> [start end]"),
		"XMD5":    pathArg(hashVerb("XMD5", "MD5"), "XMD5 <file> [start end]"),
		"XCRC":    pathArg(hashVerb("XCRC", "CRC32"), "XCRC <file> [start end]"),
		"AVBL":    optPath(cmdAVBL, "AVBL [path]"),
	}
}

// helpText lists the verbs for HELP, eight to a line.
func helpText() string {
	verbs := make([]string, 0, len(commandTable))
	for v := range commandTable {
		verbs = append(verbs, v)
	}
	sort.Strings(verbs)
	var b strings.Builder
	b.WriteString("The following commands are recognized.\n")
	for i := 0; i < len(verbs); i += 8 {
		end := min(i+8, len(verbs))
		for _, v := range verbs[i:end] {
			b.WriteString(" ")
			b.WriteString(v)
			b.WriteString(strings.Repeat(" ", 8-len(v)))
		}
		b.WriteString("\n")
	}
	b.WriteString("Help OK.")
	return b.String()
}
