#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A UDP relay for the media tests: listens on 127.0.0.1 port 0, prints `port=N` (flushed), and
forwards every datagram to --to HOST:PORT, counting datagrams from 1:
  --dup N     sends datagram N twice (a replay)
  --flip N    flips the last bit of octet 20 of datagram N (in the encrypted payload: tampering)
  --record F  also appends every datagram it forwards to file F (2-octet length, big endian,
              then the datagram)
Stops after --seconds S of inactivity once something came, or --wait W seconds (default 30) with
nothing: the sender is a program yet to start, seconds away on a loaded machine.
With --replay F it relays nothing: it sends the datagrams recorded in F to --to, in order,
prints `sent=N` and exits."""
import argparse
import socket
import struct
import sys
import time


def replay(path, dst):
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    with open(path, "rb") as f:
        while True:
            h = f.read(2)
            if not h:
                break
            (ln,) = struct.unpack(">H", h)
            d = f.read(ln)
            if len(d) != ln:
                raise SystemExit("udp_relay: %s: truncated record" % path)
            out.sendto(d, dst)
            n += 1
            time.sleep(0.002)  # paced, so that loopback drops none
    print("sent=%d" % n, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True)
    ap.add_argument("--dup", type=int, action="append", default=[])
    ap.add_argument("--flip", type=int, action="append", default=[])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--wait", type=float, default=30.0)
    ap.add_argument("--record")
    ap.add_argument("--replay")
    a = ap.parse_args()
    host, port = a.to.rsplit(":", 1)
    dst = (host, int(port))
    if a.replay:
        replay(a.replay, dst)
        return 0
    rec = open(a.record, "ab") if a.record else None
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
        if rec:
            rec.write(struct.pack(">H", len(d)) + d)
            rec.flush()
        if n in a.dup:
            out.sendto(d, dst)
    print("relayed=%d" % n, flush=True)


if __name__ == "__main__":
    sys.exit(main())
