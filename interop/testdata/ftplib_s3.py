"""Scenarios of ftplib_client.py that only the S3 interop tests run.

Usage: ftplib_s3.py HOST PORT SCENARIO WORKDIR (as ftplib_client.py).
"""

import ftplib_client as fc
from ftplib_client import check, expect_error, path


def times(ftp, workdir):
    """MDTM shows the object's LastModified until MFMT sets a time; then
    MDTM and MLSD show that time, and the content stays."""
    with open(path(workdir, "mdtm.want")) as f:
        want = f.read().strip()
    resp = ftp.sendcmd("MDTM data.bin")
    check(resp.startswith("213 ") and resp[4:18] == want, "MDTM: %r, want 213 %s" % (resp, want))
    expect_error("550", ftp.sendcmd, "MDTM missing.bin")

    resp = ftp.sendcmd("MFMT 20200102030405 data.bin")
    check(resp.startswith("213 ") and "modify=20200102030405" in resp.lower().replace(" ", ""),
          "MFMT: %r" % resp)
    resp = ftp.sendcmd("MDTM data.bin")
    check(resp == "213 20200102030405", "MDTM after MFMT: %r" % resp)
    facts = dict(ftp.mlsd())
    check(facts["data.bin"]["modify"].startswith("20200102030405"), "MLSD after MFMT: %r" % facts["data.bin"])
    check(facts["data.bin"]["size"] == "1000", "MLSD size after MFMT: %r" % facts["data.bin"])
    expect_error("550", ftp.sendcmd, "MFMT 20200102030405 missing.bin")
    ftp.quit()


fc.SCENARIOS["times"] = (times, True)

if __name__ == "__main__":
    fc.main()
