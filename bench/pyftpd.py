#!/usr/bin/python3
"""pyftpdlib as bench/run runs it: what `python3 -m pyftpdlib` starts
(the package's single-process asynchronous FTPServer and its FTPHandler),
but with the bench account, a passive range of its own and no per-command
log on the terminal.

    bench/pyftpd.py --listen 127.0.0.1:12116 --root DIR --user U --password P \
        --passive-ports 32000-33999
"""

import argparse
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def port_range(text):
    low, _, high = text.partition("-")
    return range(int(low), int(high) + 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:2121", help="HOST:PORT of the control connection")
    parser.add_argument("--root", required=True, help="the user's home directory")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--passive-ports", type=port_range, required=True, help="LOW-HIGH")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")

    # WARNING: errors only, no line per command or per transfer (the other
    # servers of the benchmark do not write one to a terminal either).
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    authorizer = DummyAuthorizer()
    # Every permission: change directory, list, read, append, delete,
    # rename, mkdir, write, chmod, set modification time.
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")

    # A subclass, so that the settings stay ours and not the package's
    # class attributes.
    class Handler(FTPHandler):
        pass

    Handler.authorizer = authorizer
    Handler.banner = "pyftpdlib ready."
    Handler.passive_ports = args.passive_ports
    Handler.masquerade_address = None
    Handler.timeout = 900  # idle control connections, as the other servers

    server = FTPServer((host, int(port)), Handler)
    # No practical session limit, as for the other servers.
    server.max_cons = 12000
    server.max_cons_per_ip = 0
    server.serve_forever()


if __name__ == "__main__":
    main()
