#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Seeds for fuzz/corpus/sdp (fuzz_sdp.c), written by hand from RFC 4566 / RFC 4567 and the layout
# kms_sdp_write documents (sdp/kms_sdp.h), not by the C code: octet 0 is the harness's mode
# (0 = SDP text, 1 = a MIKEY message for the harness to wrap). The MIKEY messages are the
# TRANSFER_INITs of fuzz/corpus/transfer (built by seeds/mkseeds_ue.c, mode octet dropped).
# Usage: mkseeds_sdp.py fuzz/corpus
import base64, os, sys

corpus = sys.argv[1]
tinit_short = open(os.path.join(corpus, "transfer", "tinit-short"), "rb").read()[1:]
tinit_tel = open(os.path.join(corpus, "transfer", "tinit-tel"), "rb").read()[1:]
rfc_b64 = ("AQAFgM0XflABAAAAAAAAAAAAAAsAyONQ6gAAAAAGEEoo2pee4hp2UaDX8ZE22YwKAAAPZG9uYWxkQGR1Y2suY29t"
           "AQAAAAAAAQAk0JKpgaVkDaawi9whVBtBt0KZ14ymNuu62+Nv3ozPLygwK/GbAV9iemnGUIZ19fWQUOSrzKTAv9zV")


def b64(b):
    return base64.b64encode(b).decode()


def sdp(lines, end="\r\n"):
    return "".join(line + end for line in lines).encode()


def offer(addr, port, mikey, ip="IP4"):
    # the layout of kms_sdp_write
    return sdp(["v=0", f"o=- 1 1 IN {ip} {addr}", "s=-", f"c=IN {ip} {addr}", "t=0 0",
                "a=key-mgmt:mikey " + b64(mikey), f"m=audio {port} RTP/SAVP 0",
                "a=rtpmap:0 PCMU/8000", "a=sendrecv"])


seeds = {
    # RFC 4567 5.1, the key-mgmt line joined, c= numeric
    "rfc4567-offer": b"\0" + sdp(["v=0", "o=alice 2891092738 2891092738 IN IP4 w-land.example.com",
                                  "s=Cool stuff", "e=alice@w-land.example.com", "t=0 0",
                                  "c=IN IP4 192.0.2.1", "a=key-mgmt:mikey " + rfc_b64,
                                  "m=audio 49000 RTP/SAVP 98", "a=rtpmap:98 AMR/8000",
                                  "m=video 52230 RTP/SAVP 31", "a=rtpmap:31 H261/90000"]),
    "offer-tinit-short": b"\0" + offer("192.0.2.1", 49170, tinit_short),
    "answer-tinit-tel-ip6": b"\0" + offer("2001:db8::2", 50000, tinit_tel, "IP6"),
    # media level over session level, other protocols beside mikey, LF line ends
    "media-level-lf": b"\0" + sdp(["v=0", "o=- 7 7 IN IP4 10.0.0.1", "s=-", "t=0 0",
                                   "a=key-mgmt:keyp1 727gkdOshsuiSDF9sdhsdKnD/dhsoSJokdo7eWD",
                                   "a=key-mgmt:mikey " + b64(tinit_short),
                                   "m=audio 4000 RTP/SAVP 0 8 101", "c=IN IP4 10.0.0.2",
                                   "a=key-mgmt: mikey " + b64(tinit_tel),
                                   "m=video 4002 RTP/SAVP 96", "a=rtcp-mux"], "\n"),
    "no-mikey": b"\0" + sdp(["v=0", "o=- 1 1 IN IP4 192.0.2.9", "s=-", "c=IN IP4 192.0.2.9",
                             "t=0 0", "m=audio 9 RTP/AVP 0"]),
    # refused: two mikey attributes at session level
    "two-mikey-session": b"\0" + sdp(["v=0", "a=key-mgmt:mikey " + b64(tinit_short),
                                      "a=key-mgmt:mikey " + b64(tinit_short),
                                      "m=audio 9 RTP/SAVP 0"]),
    "wrap-tinit-short": b"\1" + tinit_short,
    "wrap-tinit-tel": b"\1" + tinit_tel,
}
out = os.path.join(corpus, "sdp")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
