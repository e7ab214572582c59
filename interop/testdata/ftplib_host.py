"""Python ftplib against a server with the virtual host b.example (RFC 7151).

Usage: ftplib_host.py HOST PORT CAFILE

HOST b.example before login chooses the host: carol logs in with b.example's
password and sees b.example's tree; HOST after login is refused with 503;
AUTH TLS after HOST is answered with b.example's own certificate (CAFILE
trusts only that one). Prints "ok" or fails with a traceback.
"""
import ftplib
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftplib_client import ResumingFTP_TLS  # noqa: E402  (data connections resume the session)

host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]

ftp = ftplib.FTP()
ftp.connect(host, port, timeout=30)
resp = ftp.sendcmd("HOST b.example")
assert resp.startswith("220 "), resp
ftp.login("carol", "pb")
names = ftp.nlst()
assert names == ["b-only.txt"], names
try:
    ftp.sendcmd("HOST b.example")
    raise AssertionError("HOST after login accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("503"), e
ftp.quit()

# An unknown host is 504, and the server's own accounts still work after it.
ftp = ftplib.FTP()
ftp.connect(host, port, timeout=30)
try:
    ftp.sendcmd("HOST nosuch.example")
    raise AssertionError("unknown HOST accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("504"), e
try:
    ftp.login("carol", "pb")
    raise AssertionError("carol logged in without HOST")
except ftplib.error_perm as e:
    assert str(e).startswith("530"), e
ftp.close()

# TLS: the certificate is b.example's. ftplib gives the handshake the
# connected address (no SNI for an IP), so the host comes from HOST alone.
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False  # connected by address; the chain proves it is B's
ftps = ResumingFTP_TLS(context=ctx)
ftps.connect(host, port, timeout=30)
resp = ftps.sendcmd("HOST b.example")
assert resp.startswith("220 "), resp
ftps.auth()
ftps.login("carol", "pb")
ftps.prot_p()
chunks = []
ftps.retrbinary("RETR b-only.txt", chunks.append)
assert b"".join(chunks) == b"on B", chunks
ftps.quit()
print("ok")
