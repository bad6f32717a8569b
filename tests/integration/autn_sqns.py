#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The SQNs of recorded challenges, decoded with the independent Milenage of
tests/interop/gba_client.py (self-tested against TS 35.208 first): AK = f5(RAND); SQN = the
first 6 octets of AUTN xor AK; MAC-A = f1(SQN, AMF) must equal AUTN's last 8 octets.

Input FILE: one "NODE NONCE" line per challenge, NONCE the Digest nonce of its 401,
base64(RAND || AUTN || ...). Output: one "NODE SEQ IND" line each (a 5-bit IND).
Exit 1 (a message on stderr) when a MAC-A does not verify.

Usage: autn_sqns.py INTEROP_DIR K_HEX OP_HEX FILE
"""
import base64
import sys

sys.path.insert(0, sys.argv[1])
import gba_client as g  # noqa: E402

g.milenage_selftest()
k, op = bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
opc = g.milenage_opc(k, op)
for line in open(sys.argv[4]):
    node, nonce = line.split()
    raw = base64.b64decode(nonce)
    rand, autn = raw[:16], raw[16:32]
    ak = g.milenage(k, opc, rand, b"\0" * 6, b"\0\0")["f5"]
    sqn = g.xor(autn[:6], ak)
    if g.milenage(k, opc, rand, sqn, autn[6:8])["f1"] != autn[8:16]:
        sys.exit("MAC-A does not verify for " + nonce)
    v = int.from_bytes(sqn, "big")
    print(node, v >> 5, v & 31)
