#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Seeds for fuzz/corpus/replay_snap (fuzz_replay_snap.c), written from the format in
# lib/replay/kms_replay.c and kms_replay_snap.h, independently of the C code: an empty and a
# three-entry image (skew 60, saved at the harness's clock), and each sealed with AES-256-GCM
# under the harness's fixed key (0x42 then zeros), plus a file cut short and one with a flipped
# tag bit. Usage: mkseeds_replay_snap.py fuzz/corpus
import hashlib, os, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

START, SKEW = 1700000000, 60
KEY = bytes([0x42]) + bytes(31)


def image(n):
    head = struct.pack(">QQQQ", SKEW, START, START - SKEW, START + SKEW) + bytes(range(32))
    ents = b"".join(struct.pack(">QQQ", 0x1111 * (i + 1), 0x2222 * (i + 1), START + 30 + i)
                    for i in range(n))
    return head + struct.pack(">Q", n) + ents


def sealed(img, nonce):
    aad = b"IKMSRPS1" + struct.pack(">I", 1)
    return aad + nonce + AESGCM(KEY).encrypt(nonce, img, aad)


out = os.path.join(sys.argv[1], "replay_snap")
os.makedirs(out, exist_ok=True)
seeds = [image(0), image(3), sealed(image(0), bytes(12)), sealed(image(3), bytes(range(12)))]
seeds.append(seeds[3][:40])
seeds.append(seeds[3][:-1] + bytes([seeds[3][-1] ^ 1]))
for s in seeds:
    with open(os.path.join(out, hashlib.sha1(s).hexdigest()), "wb") as f:
        f.write(s)
