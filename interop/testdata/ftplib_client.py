"""Drives a ferry server with Python's ftplib for the interop tests.

Usage: ftplib_client.py HOST PORT SCENARIO WORKDIR

Each scenario checks the replies it gets and exits non-zero with a message
on the first surprise; the Go test then checks the files on disk. Files to
upload are read from WORKDIR and downloads are written there.
"""

import ftplib
import hashlib
import zlib
import os
import socket
import ssl
import sys

USER, PASSWORD = "alice", "secret"


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def expect_error(code, fn, *args):
    """Calls fn and requires it to fail with an FTP reply starting with code."""
    try:
        resp = fn(*args)
    except ftplib.Error as e:
        check(str(e).startswith(code), "%s%r: got %r, want %s" % (fn.__name__, args, str(e), code))
        return
    raise Failure("%s%r: succeeded with %r, want a %s error" % (fn.__name__, args, resp, code))


def connect(host, port, login=True):
    ftp = ftplib.FTP()
    ftp.encoding = "utf-8"
    welcome = ftp.connect(host, port, timeout=30)
    check(welcome.startswith("220"), "greeting: %r" % welcome)
    if login:
        resp = ftp.login(USER, PASSWORD)
        check(resp.startswith("230"), "login: %r" % resp)
    return ftp


def path(workdir, name):
    return os.path.join(workdir, name)


def download(ftp, name, dest):
    with open(dest, "wb") as f:
        resp = ftp.retrbinary("RETR " + name, f.write)
    check(resp.startswith("226"), "RETR %s: %r" % (name, resp))


def upload(ftp, src, name):
    with open(src, "rb") as f:
        resp = ftp.storbinary("STOR " + name, f)
    check(resp.startswith("226"), "STOR %s: %r" % (name, resp))


def read_all(ftp, cmd):
    """Runs a transfer command and returns the raw bytes of its data."""
    conn = ftp.transfercmd(cmd)
    raw = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        raw += chunk
    conn.close()
    resp = ftp.voidresp()
    check(resp.startswith("226"), "%s: %r" % (cmd, resp))
    return raw


def basic(ftp, workdir):
    check(ftp.pwd() == "/", "pwd: %r" % ftp.pwd())

    names = sorted(ftp.nlst())
    check(names == ["data.bin", "incoming", "text.txt", "ünï 名前.txt"], "nlst: %r" % names)

    facts = dict(ftp.mlsd())
    check(facts["data.bin"]["type"] == "file", "mlsd data.bin: %r" % facts["data.bin"])
    check(facts["data.bin"]["size"] == str(os.path.getsize(path(workdir, "data.bin.want"))),
          "mlsd data.bin size: %r" % facts["data.bin"])
    check(facts["incoming"]["type"] == "dir", "mlsd incoming: %r" % facts["incoming"])
    check("modify" in facts["data.bin"], "mlsd data.bin has no modify fact: %r" % facts["data.bin"])
    check("ünï 名前.txt" in facts, "mlsd lacks the UTF-8 name: %r" % sorted(facts))

    check(ftp.size("data.bin") == os.path.getsize(path(workdir, "data.bin.want")), "size data.bin")
    expect_error("550", ftp.size, "missing.bin")
    expect_error("550", ftp.size, "incoming")

    download(ftp, "data.bin", path(workdir, "data.bin"))
    download(ftp, "ünï 名前.txt", path(workdir, "utf8.txt"))

    # Text mode: lines arrive without their ends, and STOR in TYPE A
    # turns the CRLF ftplib sends into the server's LF.
    lines = []
    resp = ftp.retrlines("RETR text.txt", lines.append)
    check(resp.startswith("226"), "retrlines: %r" % resp)
    check(lines == ["first line", "second line", "", "last"], "retrlines: %r" % lines)
    # On the wire, TYPE A lines end in CRLF (RFC 959 NVT-ASCII).
    ftp.voidcmd("TYPE A")
    raw = read_all(ftp, "RETR text.txt")
    check(raw == b"first line\r\nsecond line\r\n\r\nlast\r\n", "TYPE A bytes on the wire: %r" % raw)
    # So do listings.
    for cmd in ("NLST", "LIST", "MLSD"):
        raw = read_all(ftp, cmd)
        check(raw.endswith(b"\r\n") and raw.count(b"\n") == raw.count(b"\r\n") == 4,
              "%s bytes on the wire: %r" % (cmd, raw))
    with open(path(workdir, "lines.txt"), "rb") as f:
        resp = ftp.storlines("STOR lines.txt", f)
    check(resp.startswith("226"), "storlines: %r" % resp)

    upload(ftp, path(workdir, "up.bin"), "up.bin")

    check(ftp.mkd("new dir") == "/new dir", "mkd")
    expect_error("550", ftp.mkd, "new dir")
    check(ftp.cwd("new dir").startswith("250"), "cwd")
    check(ftp.pwd() == "/new dir", "pwd after cwd: %r" % ftp.pwd())
    upload(ftp, path(workdir, "up.bin"), "inner.bin")
    check(ftp.cwd("..").startswith("250"), "cwd ..")
    expect_error("550", ftp.rmd, "new dir")  # not empty

    check(ftp.rename("up.bin", "renamed.bin").startswith("250"), "rename")
    expect_error("550", ftp.rename, "up.bin", "again.bin")
    check(ftp.rename("new dir/inner.bin", "moved.bin").startswith("250"), "rename across directories")

    check(ftp.delete("moved.bin").startswith("250"), "delete")
    expect_error("550", ftp.delete, "moved.bin")
    expect_error("550", ftp.delete, "new dir")

    check(ftp.mkd("gone") == "/gone", "mkd gone")
    check(ftp.rmd("gone").startswith("250"), "rmd")
    check(ftp.rmd("new dir").startswith("250"), "rmd new dir")
    expect_error("550", ftp.rmd, "new dir")
    expect_error("550", ftp.cwd, "new dir")

    check(ftp.quit().startswith("221"), "quit")


def abort(ftp, workdir):
    size = ftp.size("big.bin")
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    got = 0
    while got < 1 << 20:
        chunk = conn.recv(65536)
        check(chunk, "data connection closed after %d of %d bytes" % (got, size))
        got += len(chunk)
    # ftplib.abort sends ABOR as urgent data and reads one reply.
    resp = ftp.abort()
    check(resp.startswith("426"), "abort: first reply %r, want 426" % resp)
    conn.close()
    resp = ftp.voidresp()
    check(resp.startswith("226"), "abort: second reply %r, want 226" % resp)

    # The session goes on.
    check(ftp.pwd() == "/", "pwd after abort")
    download(ftp, "data.bin", path(workdir, "data.bin"))

    # ABOR with no transfer running.
    resp = ftp.abort()
    check(resp.startswith("225") or resp.startswith("226"), "idle abort: %r" % resp)
    check(ftp.pwd() == "/", "pwd after idle abort")
    ftp.quit()


def stat_during_transfer(ftp, workdir):
    """STAT is answered while a download runs, and the download completes."""
    size = ftp.size("big.bin")
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    h = hashlib.sha256()
    first = conn.recv(65536)
    check(first, "no data")
    h.update(first)
    resp = ftp.sendcmd("STAT")
    check(resp.startswith("211") and "RETR /big.bin" in resp, "STAT during RETR: %r" % resp)
    got = len(first)
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        got += len(chunk)
    conn.close()
    resp = ftp.voidresp()
    check(resp.startswith("226"), "RETR after STAT: %r" % resp)
    check(got == size, "got %d of %d bytes" % (got, size))
    with open(path(workdir, "big.sha256"), "w") as f:
        f.write(h.hexdigest())
    ftp.quit()


def extras(ftp, workdir):
    with open(path(workdir, "data.bin.want"), "rb") as f:
        want = f.read()

    # REST before RETR and before STOR.
    chunks = []
    resp = ftp.retrbinary("RETR data.bin", chunks.append, rest=1000)
    check(resp.startswith("226"), "RETR with rest: %r" % resp)
    check(b"".join(chunks) == want[1000:], "RETR with rest=1000: wrong bytes")
    with open(path(workdir, "up.bin"), "rb") as f:
        f.seek(4096)
        resp = ftp.storbinary("STOR partial.bin", f, rest=4096)
    check(resp.startswith("226"), "STOR with rest: %r" % resp)
    expect_error("501", ftp.retrbinary, "RETR data.bin", chunks.append, 8192, len(want) + 1)

    resp = ftp.sendcmd("MLST data.bin")
    check(resp.startswith("250") and ("type=file;size=%d;" % len(want)) in resp.lower(), "MLST: %r" % resp)

    # The hash the server computes matches the file.
    resp = ftp.sendcmd("HASH data.bin")
    check(resp.startswith("213 SHA-256 ") and hashlib.sha256(want).hexdigest() in resp, "HASH: %r" % resp)

    # ".." cannot leave the user's root.
    expect_error("550", ftp.size, "../../../../etc/passwd")
    ftp.cwd("/incoming")
    ftp.cwd("../../..")
    check(ftp.pwd() == "/", "pwd after cwd ../../..: %r" % ftp.pwd())

    # A glob in NLST, as mget sends.
    names = sorted(ftp.nlst("*.bin"))
    check(names == ["data.bin", "partial.bin"], "nlst *.bin: %r" % names)

    # PORT to a port nobody listens on: 425, and the session goes on.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    check(ftp.sendport("127.0.0.1", port).startswith("200"), "PORT")
    try:
        ftp.sendcmd("RETR data.bin")  # 150 first
        resp = ftp.getresp()
        raise Failure("RETR over a dead PORT: %r" % resp)
    except ftplib.Error as e:
        check(str(e).startswith("425"), "RETR over a dead PORT: %r" % str(e))
    check(ftp.pwd() == "/", "pwd after 425")
    # Nor may PORT name another host or a privileged port.
    expect_error("5", ftp.sendport, "10.0.0.1", 40000)
    expect_error("5", ftp.sendport, "127.0.0.1", 21)
    ftp.quit()


def abort_upload(ftp, workdir):
    """ABOR during an upload: 426 for the transfer, 226 for ABOR, and what
    arrived is kept (the default upload mode) so REST can resume it."""
    with open(path(workdir, "up.bin"), "rb") as f:
        want = f.read()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR up.bin")
    conn.sendall(want[:1 << 20])
    resp = ftp.abort()
    check(resp.startswith("426"), "ABOR during STOR: first reply %r, want 426" % resp)
    conn.close()
    resp = ftp.voidresp()
    check(resp.startswith("226"), "ABOR during STOR: second reply %r, want 226" % resp)
    # The server keeps what it had read when ABOR came; on a loaded machine
    # that may be nothing at all, and then there is no file.
    try:
        size = ftp.size("up.bin")
    except ftplib.error_perm as e:
        check(str(e).startswith("550"), "SIZE after the aborted upload: %r" % str(e))
        size = 0
    check(size <= 1 << 20, "size after the aborted upload: %d" % size)
    if size > 0:
        with open(path(workdir, "up.bin"), "rb") as f:
            check(ftp.sendcmd("XSHA256 up.bin").split()[1] == hashlib.sha256(f.read(size)).hexdigest(),
                  "the kept part is not a prefix of what was sent")
    with open(path(workdir, "up.bin"), "rb") as f:
        f.seek(size)
        resp = ftp.storbinary("STOR up.bin", f, rest=size or None)
    check(resp.startswith("226"), "resumed STOR: %r" % resp)
    check(ftp.size("up.bin") == len(want), "size after resuming")
    ftp.quit()


def active(ftp, workdir):
    ftp.set_pasv(False)
    names = sorted(ftp.nlst())
    check("data.bin" in names, "nlst in active mode: %r" % names)
    check("incoming" in dict(ftp.mlsd()), "mlsd in active mode")
    download(ftp, "data.bin", path(workdir, "data.bin"))
    upload(ftp, path(workdir, "up.bin"), "up.bin")
    # The command ftplib sent was PORT (IPv4) and it was accepted.
    resp = ftp.sendport("127.0.0.1", 40000)
    check(resp.startswith("200"), "PORT: %r" % resp)
    ftp.quit()


def anonymous(ftp, workdir):
    resp = ftp.login()  # anonymous
    check(resp.startswith("230"), "anonymous login: %r" % resp)
    download(ftp, "data.bin", path(workdir, "data.bin"))
    with open(path(workdir, "up.bin"), "rb") as f:
        expect_error("550", ftp.storbinary, "STOR up.bin", f)
    expect_error("550", ftp.delete, "data.bin")
    expect_error("550", ftp.mkd, "mine")
    expect_error("550", ftp.rename, "data.bin", "x.bin")
    upload(ftp, path(workdir, "up.bin"), "incoming/up.bin")
    check(ftp.mkd("incoming/mine") == "/incoming/mine", "mkd in incoming")
    expect_error("550", ftp.delete, "incoming/up.bin")
    with open(path(workdir, "up.bin"), "rb") as f:
        expect_error("550", ftp.storbinary, "STOR incoming/up.bin", f)
    ftp.quit()


def badlogin(ftp, workdir):
    expect_error("530", ftp.login, USER, "wrong")
    expect_error("530", ftp.nlst)
    resp = ftp.login(USER, PASSWORD)
    check(resp.startswith("230"), "login after a failure: %r" % resp)
    ftp.quit()


def ipv6(ftp, workdir):
    check(ftp.af == socket.AF_INET6, "not connected over IPv6")
    download(ftp, "data.bin", path(workdir, "data.bin"))  # EPSV
    upload(ftp, path(workdir, "up.bin"), "up.bin")
    ftp.set_pasv(False)
    download(ftp, "data.bin", path(workdir, "data-active.bin"))  # EPRT |2|::1|...
    # PASV and PORT cannot carry IPv6 addresses.
    try:
        resp = ftp.sendcmd("PASV")
        raise Failure("PASV over IPv6: %r" % resp)
    except ftplib.Error as e:
        check(str(e)[:1] in "45", "PASV over IPv6: %r" % str(e))
    expect_error("5", ftp.sendport, "127.0.0.1", 40000)
    expect_error("522", ftp.sendcmd, "EPSV 1")
    check(ftp.sendcmd("EPSV 2").startswith("229"), "EPSV 2")
    ftp.quit()


def raw_session(host, port):
    """A bare control connection, logged in, for what ftplib cannot send."""
    ftp = connect(host, port)
    return ftp, ftp.sock


def pipelining(host, port, workdir):
    """Commands sent in one packet are answered in order; one that arrives
    during a transfer waits for the transfer's final reply; QUIT during a
    download lets it finish first."""
    ftp, sock = raw_session(host, port)
    sock.sendall(b"NOOP\r\nPWD\r\nSYST\r\nTYPE I\r\n")
    for want in ("200", "257", "215", "200"):
        resp = ftp.getresp()
        check(resp.startswith(want), "pipelined reply %r, want %s" % (resp, want))

    with open(path(workdir, "data.bin.want"), "rb") as f:
        want = f.read()
    host_, port_ = ftp.makepasv()
    data = socket.create_connection((host_, port_), timeout=30)
    sock.sendall(b"RETR data.bin\r\nSIZE data.bin\r\nMDTM data.bin\r\n")
    resp = ftp.getresp()
    check(resp.startswith("150"), "RETR: %r" % resp)
    got = b""
    while True:
        chunk = data.recv(1 << 20)
        if not chunk:
            break
        got += chunk
    data.close()
    check(got == want, "pipelined RETR: %d bytes, want %d" % (len(got), len(want)))
    for code in ("226", "213", "213"):
        resp = ftp.getresp()
        check(resp.startswith(code), "after RETR: %r, want %s" % (resp, code))
    check(resp.startswith("213 2"), "MDTM: %r" % resp)

    # QUIT while a download runs: the download completes, 226, then 221.
    host_, port_ = ftp.makepasv()
    data = socket.create_connection((host_, port_), timeout=30)
    sock.sendall(b"RETR big.bin\r\n")
    check(ftp.getresp().startswith("150"), "RETR big.bin")
    first = data.recv(65536)
    sock.sendall(b"QUIT\r\n")
    h = hashlib.sha256(first)
    n = len(first)
    while True:
        chunk = data.recv(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    data.close()
    with open(path(workdir, "big.sha256"), "w") as f:
        f.write(h.hexdigest())
    resp = ftp.getresp()
    check(resp.startswith("226"), "reply ending the download after QUIT: %r" % resp)
    resp = ftp.getresp()
    check(resp.startswith("221"), "reply to QUIT: %r" % resp)
    check(sock.recv(100) == b"", "connection still open after 221")


def telnet_abort(host, port, workdir):
    """ABOR the way tnftp and inetutils send it: Telnet IP, then Synch (IAC
    as urgent data, DM), then the command."""
    ftp, sock = raw_session(host, port)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR big.bin")
    got = 0
    while got < 1 << 20:
        chunk = conn.recv(65536)
        check(chunk, "data connection closed early")
        got += len(chunk)
    sock.sendall(b"\xff\xf4")  # IAC IP
    sock.send(b"\xff", socket.MSG_OOB)  # IAC as urgent data
    sock.sendall(b"\xf2ABOR\r\n")  # DM, then ABOR
    resp = ftp.getmultiline()
    check(resp.startswith("426"), "first reply after Telnet ABOR: %r" % resp)
    conn.close()
    resp = ftp.getmultiline()
    check(resp.startswith("226"), "second reply after Telnet ABOR: %r" % resp)
    check(ftp.pwd() == "/", "pwd after Telnet ABOR")
    ftp.quit()


class ResumingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS that resumes the control connection's TLS session on data
    connections, as servers that insist on it (vsftpd's require_ssl_reuse,
    ferry's default) need; plain FTP_TLS starts a new session each time."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def tls_connect(cls, host, port, workdir):
    ctx = ssl.create_default_context(cafile=path(workdir, "ca.pem"))
    ftp = cls(context=ctx)
    ftp.encoding = "utf-8"
    ftp.connect(host, port, timeout=30)
    resp = ftp.login(USER, PASSWORD)  # AUTH TLS first
    check(resp.startswith("230"), "login over TLS: %r" % resp)
    check(isinstance(ftp.sock, ssl.SSLSocket), "control connection is not TLS")
    check(ftp.prot_p().startswith("200"), "PROT P")
    return ftp


def tls(host, port, workdir):
    ftp = tls_connect(ResumingFTP_TLS, host, port, workdir)
    download(ftp, "data.bin", path(workdir, "data.bin"))
    upload(ftp, path(workdir, "up.bin"), "up.bin")
    names = sorted(ftp.nlst())
    check("up.bin" in names and "data.bin" in names, "nlst over TLS: %r" % names)
    ftp.set_pasv(False)
    download(ftp, "data.bin", path(workdir, "data-active.bin"))
    ftp.set_pasv(True)
    # Back to clear data, then protected again.
    check(ftp.prot_c().startswith("200"), "PROT C")
    download(ftp, "data.bin", path(workdir, "data-clear.bin"))
    ftp.quit()


def tls_noresume(host, port, workdir):
    """Without session resumption the server refuses the data connection
    with 425 (by default), and the control connection goes on."""
    ftp = tls_connect(ftplib.FTP_TLS, host, port, workdir)
    sink = []
    try:
        resp = ftp.retrbinary("RETR data.bin", sink.append)
        raise Failure("RETR without TLS resumption succeeded: %r" % resp)
    except ftplib.error_temp as e:
        check(str(e).startswith("425"), "RETR without TLS resumption: %r" % str(e))
    except (ssl.SSLError, OSError):
        # The server closed the data connection right after the handshake;
        # its reply still follows on the control connection.
        try:
            ftp.voidresp()
            raise Failure("RETR without TLS resumption succeeded")
        except ftplib.error_temp as e:
            check(str(e).startswith("425"), "RETR without TLS resumption: %r" % str(e))
    check(ftp.pwd() == "/", "pwd after the refused data connection")
    ftp.quit()


def commands(ftp, workdir):
    """The less common commands of RFC 959, 775, 3659 and the hash draft,
    sent through ftplib's own API: what a script would do."""
    with open(path(workdir, "data.bin.want"), "rb") as f:
        want = f.read()

    # STOU: the unique name is in the 150 reply (RFC 1123 4.1.2.9).
    conn, _ = ftp.ntransfercmd("STOU")
    start = ftp.lastresp
    conn.sendall(b"unique content")
    conn.close()
    resp = ftp.voidresp()
    check(resp.startswith("226"), "STOU: %r" % resp)
    names = [n for n in ftp.nlst() if n.startswith("ferry.")]
    check(len(names) == 1, "STOU left %r" % names)
    with open(path(workdir, "stou-name"), "w") as f:
        f.write(names[0])

    # Parameters and housekeeping.
    for cmd, code in [("ALLO 1000", "202"), ("ACCT x", "202"), ("STRU R", "200"),
                      ("STRU F", "200"), ("MODE B", "200"), ("MODE Z", "200"),
                      ("MODE S", "200"), ("TYPE L 8", "200"),
                      ("TYPE I", "200"), ("SYST", "215"), ("NOOP", "200")]:
        resp = ftp.sendcmd(cmd)
        check(resp.startswith(code), "%s: %r" % (cmd, resp))
    expect_error("502", ftp.sendcmd, "SMNT /")
    expect_error("504", ftp.sendcmd, "MODE C")

    # The RFC 775 aliases Windows ftp.exe sends.
    check(ftp.sendcmd("XMKD xdir").startswith("257"), "XMKD")
    check(ftp.sendcmd("XCWD xdir").startswith("250"), "XCWD")
    check(ftp.sendcmd("XPWD").startswith('257 "/xdir"'), "XPWD")
    check(ftp.sendcmd("XCUP").startswith("250"), "XCUP")
    check(ftp.sendcmd("CDUP").startswith("250"), "CDUP")
    check(ftp.sendcmd("XRMD xdir").startswith("250"), "XRMD")

    # Times, permissions, space and hashes.
    check(ftp.sendcmd("MFMT 20200102030405 data.bin").startswith("213"), "MFMT")
    check(ftp.sendcmd("MDTM data.bin") == "213 20200102030405", "MDTM after MFMT")
    check(ftp.sendcmd("SITE CHMOD 600 data.bin").startswith("200"), "SITE CHMOD")
    check(int(ftp.sendcmd("AVBL").split()[1]) > 0, "AVBL")
    check(ftp.sendcmd("XCRC data.bin") == "250 %08x" % (zlib.crc32(want) & 0xffffffff), "XCRC")
    check(ftp.sendcmd("XMD5 data.bin") == "250 " + hashlib.md5(want).hexdigest(), "XMD5")
    check(ftp.sendcmd("OPTS HASH SHA-1").startswith("200"), "OPTS HASH")
    check(hashlib.sha1(want).hexdigest() in ftp.sendcmd("HASH data.bin"), "HASH SHA-1")

    # EPSV ALL: afterwards only EPSV sets up data connections (ftplib uses
    # EPSV for IPv4 too once told to).
    check(ftp.sendcmd("EPSV ALL").startswith("200"), "EPSV ALL")
    expect_error("503", ftp.sendcmd, "PASV")
    expect_error("503", ftp.sendport, "127.0.0.1", 40000)
    ftp.af = socket.AF_INET6  # makes ftplib send EPSV
    chunks = []
    check(ftp.retrbinary("RETR data.bin", chunks.append).startswith("226"), "RETR after EPSV ALL")
    check(b"".join(chunks) == want, "RETR after EPSV ALL: wrong bytes")

    # REIN: logged out, then a new login works.
    check(ftp.sendcmd("REIN").startswith("220"), "REIN")
    expect_error("530", ftp.pwd)
    check(ftp.login(USER, PASSWORD).startswith("230"), "login after REIN")
    check(ftp.pwd() == "/", "pwd after REIN")
    ftp.quit()


def quiet(ftp, workdir):
    """Pauses longer than the server's hand-over delay (50 ms) between
    commands, on several sessions, and types one command in two parts
    with a pause between them."""
    import time
    others = [connect(ftp.host, ftp.port) for _ in range(3)]
    time.sleep(0.3)
    for f in [ftp] + others:
        check(f.pwd() == "/", "PWD after a pause")
    time.sleep(0.3)
    download(ftp, "data.bin", path(workdir, "data.bin"))
    time.sleep(0.3)
    upload(ftp, path(workdir, "up.bin"), "up.bin")
    time.sleep(0.3)
    ftp.sock.sendall(b"NO")
    time.sleep(0.3)
    ftp.sock.sendall(b"OP\r\n")
    resp = ftp.getresp()
    check(resp.startswith("200"), "NOOP typed in two parts: %r" % resp)
    time.sleep(0.3)
    size = ftp.size("up.bin")
    check(size == os.path.getsize(path(workdir, "up.bin")), "SIZE after a pause: %r" % size)
    for f in others:
        check(f.quit().startswith("221"), "QUIT after a pause")
    ftp.quit()


SCENARIOS = {
    "basic": (basic, True),
    "abort": (abort, True),
    "active": (active, True),
    "stat": (stat_during_transfer, True),
    "extras": (extras, True),
    "commands": (commands, True),
    "anonymous": (anonymous, False),
    "badlogin": (badlogin, False),
    "ipv6": (ipv6, True),
    "abort-upload": (abort_upload, True),
    "quiet": (quiet, True),
    # These open their own connection.
    "pipelining": (pipelining, None),
    "telnet-abort": (telnet_abort, None),
    "tls": (tls, None),
    "tls-noresume": (tls_noresume, None),
}


def main():
    host, port, scenario, workdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    fn, login = SCENARIOS[scenario]
    try:
        if login is None:
            fn(host, port, workdir)
        else:
            fn(connect(host, port, login), workdir)
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
