#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Plays systemd's side of sd_notify(3) for a test: binds a unix datagram socket at PATH and
appends every message it receives to OUT, one line per message (its newlines as '|'), until
killed. Usage: notify_listen.py PATH OUT"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out + ".ready", "w"):
    pass
while True:
    msg = s.recv(4096).decode("utf-8", "replace").strip("\n").replace("\n", "|")
    with open(out, "a") as f:
        f.write(msg + "\n")
        f.flush()
        os.fsync(f.fileno())
