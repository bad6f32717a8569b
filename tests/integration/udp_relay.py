#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A UDP relay for the media tests: listens on 127.0.0.1 port 0, prints `port=N` (flushed), and
forwards every datagram to --to HOST:PORT, counting datagrams from 1:
  --dup N     sends datagram N twice (a replay)
  --flip N    flips the last bit of octet 20 of datagram N (in the encrypted payload: tampering)
Stops after --seconds S of inactivity once something came, or --wait W seconds (default 30) with
nothing: the sender is a program yet to start, seconds away on a loaded machine."""
import argparse
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True)
    ap.add_argument("--dup", type=int, action="append", default=[])
    ap.add_argument("--flip", type=int, action="append", default=[])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--wait", type=float, default=30.0)
    a = ap.parse_args()
    host, port = a.to.rsplit(":", 1)
    dst = (host, int(port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print("port=%d" % s.getsockname()[1], flush=True)
    s.settimeout(a.wait)
    n = 0
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    while True:
        try:
            d, _ = s.recvfrom(4096)
        except socket.timeout:
            break
        n += 1
        s.settimeout(a.seconds)
        if n in a.flip:
            b = bytearray(d)
            b[20] ^= 1
            d = bytes(b)
        out.sendto(d, dst)
        if n in a.dup:
            out.sendto(d, dst)
    print("relayed=%d" % n, flush=True)


if __name__ == "__main__":
    sys.exit(main())
