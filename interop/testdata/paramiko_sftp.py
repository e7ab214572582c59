"""Drive ferry's SFTP server with paramiko, as scripts and Ansible do.

Usage: paramiko_sftp.py HOST PORT USER PASSWORD KNOWN_HOSTS LOCAL_DIR MODE

MODE "session" uploads LOCAL_DIR/src.bin as /p.bin, checks its size, reads
it back, renames it to /q.bin, makes and removes a directory, lists /,
sets /q.bin's mode to 0600, writes and removes /gone.txt, and prints one
JSON object of what it saw. MODE "badpass" logs in with PASSWORD (a wrong
one) and prints whether the server refused it.
"""

import hashlib
import json
import os
import stat
import sys

import paramiko


def connect(host, port, user, password, known_hosts):
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(host, port=port, username=user, password=password,
                   look_for_keys=False, allow_agent=False, timeout=30,
                   banner_timeout=30, auth_timeout=30)
    return client


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    host, port, user, password, known_hosts, local, mode = sys.argv[1:8]
    port = int(port)
    if mode == "badpass":
        try:
            connect(host, port, user, password, known_hosts).close()
            print(json.dumps({"auth_failed": False}))
        except paramiko.AuthenticationException:
            print(json.dumps({"auth_failed": True}))
        return

    client = connect(host, port, user, password, known_hosts)
    transport = client.get_transport()
    sftp = client.open_sftp()
    src = os.path.join(local, "src.bin")
    back = os.path.join(local, "back.bin")
    put = sftp.put(src, "/p.bin")
    sftp.get("/p.bin", back)
    sftp.rename("/p.bin", "/q.bin")
    sftp.mkdir("/d")
    listed = sorted(sftp.listdir("/"))
    sftp.rmdir("/d")
    sftp.chmod("/q.bin", 0o600)
    mode_after = stat.S_IMODE(sftp.stat("/q.bin").st_mode)
    with sftp.open("/gone.txt", "w") as f:
        f.write(b"short-lived")
    sftp.remove("/gone.txt")
    try:
        sftp.stat("/gone.txt")
        gone = False
    except FileNotFoundError:
        gone = True
    print(json.dumps({
        "cipher": transport.remote_cipher,
        "mac": transport.remote_mac,
        "put_size": put.st_size,
        "src_sha256": sha256(src),
        "back_sha256": sha256(back),
        "listed": listed,
        "mode": mode_after,
        "removed": gone,
        "after_rmdir": sorted(sftp.listdir("/")),
    }))
    sftp.close()
    client.close()


if __name__ == "__main__":
    main()
