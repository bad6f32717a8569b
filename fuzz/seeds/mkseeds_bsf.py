#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the descriptively named seeds of the bsf_ub and bsf_zn surfaces into
<dir>/bsf_ub/ and <dir>/bsf_zn/, in the input layouts documented at the top of
fuzz/fuzz_bsf_ub.c and fuzz/fuzz_bsf_zn.c. The verdict each seed reaches (see the names) is
checked by the harness's own oracles when CTest replays the corpus; KMS_FUZZ_TRACE=1 prints it.

Not a test:  python3 fuzz/seeds/mkseeds_bsf.py fuzz/corpus
"""
import os
import sys

REALM = b"bsf.example.org"
IMPI = b"alice@ims.example.org"
HEAD = 46


def ub_answer(sel, h1=0, sqn=b"\0\0\0\0\x10\0", nc=b"\0\0\0\1", cnonce=b"\x0c\x0a\xfe\x01",
              resp=b"\x11" * 16, auts=b"\x22" * 14, text=b""):
    head = bytes([sel, h1]) + sqn + nc + cnonce + resp + auts
    assert len(head) == HEAD
    return head + text


def ub_seeds():
    chal = (b'Digest username="' + IMPI + b'", realm="' + REALM +
            b'", nonce="", uri="/", response=""')
    ans = (b'Digest username="' + IMPI + b'", realm="' + REALM + b'", nonce="' + b"A" * 64 +
           b'", uri="/", response="' + b"0" * 32 + b'", algorithm=AKAv1-MD5, qop=auth-int, '
           b'nc=00000001, cnonce="abcd", opaque="00"')
    return {
        "raw_no_header": b"\x00",
        "raw_challenge_request": b"\x00" + chal,
        "raw_answer_unknown_nonce": b"\x00" + ans,
        "raw_answer_auts": b"\x00" + ans + b', auts="' + b"A" * 20 + b'"',
        "raw_basic": b"\x00Basic YWxpY2U6c2VjcmV0",
        "raw_other_realm": b"\x00" + chal.replace(REALM, b"evil.example.org"),
        "raw_other_uri": b"\x00" + chal.replace(b'uri="/"', b'uri="/x"'),
        "challenge_subscriber": b"\x01" + IMPI,
        "challenge_unknown": b"\x01bob@ims.example.org",
        "challenge_not_an_impi": b"\x01not an impi",
        "challenge_empty_user": b"\x01",
        "answer_correct_200": ub_answer(0x06),
        "answer_correct_post_200": ub_answer(0x26, text=b"\n<body>x</body>"),
        "answer_wrong_response_401": ub_answer(0x02),
        "answer_no_algorithm_400": ub_answer(0x0E),
        "answer_for_unknown_impi_401": ub_answer(0x46),
        "answer_username_same_200": ub_answer(0x16, text=IMPI),
        "answer_username_other_401": ub_answer(0x16, text=b"mallory@ims.example.org"),
        "answer_nc_2_400": ub_answer(0x86, nc=b"\0\0\0\2"),
        "resync_valid_challenge": ub_answer(0x07),
        "resync_valid_high_sqn": ub_answer(0x07, sqn=b"\x7f\xff\xff\xff\xff\xe0"),
        "resync_raw_auts_401": ub_answer(0x07, h1=1),
        "resync_wrong_response_401": ub_answer(0x03),
        "resync_post_body": ub_answer(0x27, text=b"\nbody"),
    }


def zn_built(sel, flags, ua=b"\x01\0\0\0\x06", xor=0, at=0, text=b""):
    return bytes([sel, flags]) + ua + bytes([xor, at]) + text


def zn_seeds():
    req = (b'{"btid":"AAAAAAAAAAAAAAAAAAAAAA==@bsf.example.org","naf_fqdn":"kms.example.org",'
           b'"ua_protocol_id":"0100000006"}')
    return {
        "ok_200": zn_built(0x01, 0x01),
        "ok_other_naf_200": zn_built(0x01, 0x03),
        "ok_ua_0107_200": zn_built(0x01, 0x05, ua=b"\x01\0\0\0\x07"),
        "no_cert_403": zn_built(0x00, 0x01),
        "wrong_cert_403": zn_built(0x02, 0x01),
        "unverified_cert_403": zn_built(0x03, 0x01),
        "get_405": zn_built(0x05, 0x01),
        "other_path_404": zn_built(0x09, 0x01),
        "unknown_btid_404": zn_built(0x01, 0x00, text=b"AAAAAAAAAAAAAAAAAAAAAA==@bsf.example.org"),
        "other_realm_btid_404": zn_built(0x01, 0x00, text=b"AAAAAAAAAAAAAAAAAAAAAA==@x.org"),
        "flipped_btid_404": zn_built(0x01, 0x08, xor=0x01, at=3),
        "bad_btid_400": zn_built(0x01, 0x00, text=b"not a btid"),
        "ua_ffffffffff_200": zn_built(0x01, 0x05, ua=b"\xff\xff\xff\xff\xff"),
        "raw_request_404": b"\x11" + req,
        "raw_request_no_cert_403": b"\x10" + req,
        "raw_request_wrong_cert_403": b"\x12" + req,
        "raw_truncated_400": b"\x11" + req[:40],
        "raw_array_400": b"\x11[]",
        "raw_empty_400": b"\x11",
        "raw_duplicate_key_400": b"\x11" + req[:-1] + b',"btid":"x"}',
        "raw_missing_naf_400": b'\x11{"btid":"a@b.org","ua_protocol_id":"0100000006"}',
        "raw_extra_key_404": b"\x11" + req[:-1] + b',"extra":[1,{"a":null}]}',
        "raw_nul_escape_400": b'\x11{"btid":"a\\u0000b","naf_fqdn":"kms.example.org","ua_protocol_id":"0100000006"}',
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkseeds_bsf.py CORPUS_DIR")
    for surface, seeds in (("bsf_ub", ub_seeds()), ("bsf_zn", zn_seeds())):
        d = os.path.join(sys.argv[1], surface)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
