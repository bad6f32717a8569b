#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An independent GBA Ub client (HTTP Digest AKAv1-MD5), written from the specifications only.

It exists to show that imskms-bsfd speaks the standard rather than the dialect of the project's
own C client: nothing here is taken from the project's C code. Sources, section by section:

  - RFC 2617 3.2.1 (WWW-Authenticate), 3.2.2 (Authorization), 3.2.2.1-3.2.2.3 (request-digest,
    A1, A2 with qop=auth-int), 3.2.3 (Authentication-Info and rspauth); the auth-param syntax is
    RFC 2616 2.2 (token, quoted-string, quoted-pair).
  - RFC 3310 3.1 (algorithm=AKAv1-MD5), 3.2 (nonce = base64(RAND || AUTN || server data)), 3.3
    (RES is the Digest password), 3.5 (the server's rspauth uses XRES).
  - TS 24.109 A.3/A.4 (the Ub flow: the first GET with empty nonce and response, the 401, the
    answer with qop=auth-int, the 200 with the BootstrappingInfo body), C.1 (BootstrappingInfo,
    namespace uri:3gpp-gba).
  - TS 35.206 (Milenage f1, f2, f3, f4, f5; OPc = OP xor E_K(OP)), checked against TS 35.208
    test set 1 before every use; TS 33.102 6.3 (AUTN = SQN xor AK || AMF || MAC-A), Annex C (SQN
    freshness, here reduced to "SQN > SQN_MS" when --sqn-ms is given).
  - TS 33.220 B.2/B.3 (Ks = CK || IK; Ks_NAF = HMAC-SHA-256(Ks, S) with FC 0x01 and "gba-me")
    and H.3 (Ua security protocol id 01 00 00 00 06 for the IMS UE-KMS exchange).

Python 3 standard library only; AES-128 comes from the `openssl enc` command.
Exit 0 on success, 1 on a verification failure (one line on stderr), 2 on usage errors.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import os
import subprocess
import sys
import urllib.parse
import xml.etree.ElementTree as ET


class Fail(Exception):
    """A verification failure: exit 1 with the message."""


# ---------------------------------------------------------------------------------------------
# AES-128 (ECB, raw blocks) through the openssl command line tool.


def aes128_ecb(key: bytes, data: bytes) -> bytes:
    """E_K on every 16-octet block of data (ECB: the blocks are independent)."""
    assert len(key) == 16 and len(data) % 16 == 0 and data
    out = subprocess.run(
        ["openssl", "enc", "-aes-128-ecb", "-nopad", "-K", key.hex()],
        input=data,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    if out.returncode != 0 or len(out.stdout) != len(data):
        raise Fail("openssl enc -aes-128-ecb failed: " + out.stderr.decode(errors="replace").strip())
    return out.stdout


def xor(a: bytes, b: bytes) -> bytes:
    assert len(a) == len(b)
    return bytes(x ^ y for x, y in zip(a, b))


def rot(x: bytes, bits: int) -> bytes:
    """Cyclic left rotation of a 128-bit block by a multiple of 8 bits (TS 35.206 uses 0..96)."""
    n = (bits // 8) % 16
    return x[n:] + x[:n]


# ---------------------------------------------------------------------------------------------
# Milenage, TS 35.206 section 4.1: r1=64, r2=0, r3=32, r4=64, r5=96;
# c1=0, c2=1, c3=2, c4=4, c5=8 in the last octet.

R = {1: 64, 2: 0, 3: 32, 4: 64, 5: 96}
C = {i: bytes(15) + bytes([v]) for i, v in {1: 0, 2: 1, 3: 2, 4: 4, 5: 8}.items()}


def milenage_opc(k: bytes, op: bytes) -> bytes:
    return xor(op, aes128_ecb(k, op))


def milenage(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> dict:
    """f1 (MAC-A), f2 (RES), f3 (CK), f4 (IK), f5 (AK) for one RAND."""
    temp = aes128_ecb(k, xor(rand, opc))
    in1 = sqn + amf + sqn + amf
    blocks = [xor(xor(temp, rot(xor(in1, opc), R[1])), C[1])]
    for i in (2, 3, 4):
        blocks.append(xor(rot(xor(temp, opc), R[i]), C[i]))
    enc = aes128_ecb(k, b"".join(blocks))
    out = [xor(enc[16 * j : 16 * j + 16], opc) for j in range(4)]
    return {
        "f1": out[0][0:8],
        "f2": out[1][8:16],
        "f5": out[1][0:6],
        "f3": out[2],
        "f4": out[3],
    }


def milenage_selftest() -> None:
    """TS 35.208 section 4.3, test set 1 (the values given in the brief and in
    tests/vectors/milenage_ts35208.txt, read as data)."""
    h = bytes.fromhex
    k = h("465b5ce8b199b49faa5f0a2ee238a6bc")
    opc = milenage_opc(k, h("cdc202d5123e20f62b6d676ac72cb318"))
    if opc != h("cd63cb71954a9f4e48a5994e37a02baf"):
        raise Fail("Milenage self-test (TS 35.208 set 1): OPc " + opc.hex())
    got = milenage(k, opc, h("23553cbe9637a89d218ae64dae47bf35"), h("ff9bb4d0b607"), h("b9b9"))
    want = {
        "f1": "4a9ffac354dfafb3",
        "f2": "a54211d5e3ba50bf",
        "f3": "b40ba9a3c58b2a05bbf0d987b21bf8cb",
        "f4": "f769bcd751044604127672711c6d3441",
        "f5": "aa689c648370",
    }
    for name, value in want.items():
        if got[name].hex() != value:
            raise Fail(f"Milenage self-test (TS 35.208 set 1): {name} {got[name].hex()} != {value}")


# ---------------------------------------------------------------------------------------------
# TS 33.220 Annex B: the generic KDF and Ks_NAF.

UA_IMS_KMS = bytes.fromhex("0100000006")  # TS 33.220 H.3: IMS UE <-> KMS (TS 33.328)


def kdf_s(fc: int, *params: bytes) -> bytes:
    """S = FC || P0 || L0 || ... || Pn || Ln, each Li two octets big-endian (B.2)."""
    s = bytes([fc])
    for p in params:
        if len(p) > 0xFFFF:
            raise Fail("KDF parameter longer than 65535 octets")
        s += p + len(p).to_bytes(2, "big")
    return s


def ks_naf(ck: bytes, ik: bytes, rand: bytes, impi: str, naf_fqdn: str) -> bytes:
    """B.3: Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, NAF_Id), Ks = CK || IK."""
    naf_id = naf_fqdn.encode("utf-8") + UA_IMS_KMS
    s = kdf_s(0x01, b"gba-me", rand, impi.encode("utf-8"), naf_id)
    return hmac.new(ck + ik, s, hashlib.sha256).digest()


def kdf_selftest() -> None:
    """RFC 4231 test case 1 for HMAC-SHA-256, and the worked Ks_NAF example of
    protocol-facts.md 1.6 (self-computed there from B.2/B.3, not an official vector; the values
    and their source are copied in tests/vectors/protocol_facts.txt [ks_naf set1])."""
    tc1 = hmac.new(b"\x0b" * 20, b"Hi There", hashlib.sha256).hexdigest()
    if tc1 != "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7":
        raise Fail("HMAC-SHA-256 self-test (RFC 4231 TC1)")
    h = bytes.fromhex
    got = ks_naf(
        h("b40ba9a3c58b2a05bbf0d987b21bf8cb"),
        h("f769bcd751044604127672711c6d3441"),
        h("23553cbe9637a89d218ae64dae47bf35"),
        "001010123456789@ims.mnc001.mcc001.3gppnetwork.org",
        "kms.ims.mnc001.mcc001.3gppnetwork.org",
    )
    if got.hex() != "46f9d0b4884f27f615cda6d9403d9c7f60fbff0755bf04e0094ee1088ccba48c":
        raise Fail("Ks_NAF self-test (protocol-facts.md 1.6): " + got.hex())


# ---------------------------------------------------------------------------------------------
# RFC 2617 / RFC 2616 2.2: a small auth-param parser.

TSPECIALS = set('()<>@,;:\\"/[]?={} \t')


def is_token_char(c: str) -> bool:
    return 32 < ord(c) < 127 and c not in TSPECIALS


def parse_auth_params(s: str) -> dict:
    """'a=b, c="d, e"' -> {'a': 'b', 'c': 'd, e'}; names lower-cased; duplicates refused."""
    params = {}
    i, n = 0, len(s)

    def skip_lws(i: int) -> int:
        while i < n and s[i] in " \t\r\n":
            i += 1
        return i

    while True:
        i = skip_lws(i)
        while i < n and s[i] == ",":  # empty list elements are allowed by #rule
            i = skip_lws(i + 1)
        if i >= n:
            break
        j = i
        while j < n and is_token_char(s[j]):
            j += 1
        if j == i:
            raise Fail(f"auth-param: a token expected at offset {i} of {s!r}")
        name = s[i:j].lower()
        i = skip_lws(j)
        if i >= n or s[i] != "=":
            raise Fail(f"auth-param: '=' expected after {name!r}")
        i = skip_lws(i + 1)
        if i < n and s[i] == '"':
            i += 1
            value = []
            while True:
                if i >= n:
                    raise Fail(f"auth-param: unterminated quoted-string for {name!r}")
                c = s[i]
                if c == "\\" and i + 1 < n:  # quoted-pair
                    value.append(s[i + 1])
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    value.append(c)
                    i += 1
            value = "".join(value)
        else:
            j = i
            while j < n and is_token_char(s[j]):
                j += 1
            if j == i:
                raise Fail(f"auth-param: no value for {name!r}")
            value = s[i:j]
            i = j
        if name in params:
            raise Fail(f"auth-param: {name!r} twice")
        params[name] = value
        i = skip_lws(i)
        if i < n and s[i] != ",":
            raise Fail(f"auth-param: ',' expected at offset {i} of {s!r}")
    return params


def parse_digest_challenge(value: str) -> dict:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise Fail(f"WWW-Authenticate is not a Digest challenge: {value!r}")
    return parse_auth_params(rest)


def quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------------------------
# RFC 2617 3.2.2.1-3.2.2.3 and 3.2.3 with qop=auth-int; AKAv1-MD5 (RFC 3310 3.1): MD5, not -sess.


def md5hex(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def digest_response(ha1: str, nonce: str, nc: str, cnonce: str, qop: str, a2: bytes) -> str:
    """KD(H(A1), nonce:nc:cnonce:qop:H(A2)) with KD(s, d) = H(s ":" d)."""
    return md5hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{md5hex(a2)}".encode())


# ---------------------------------------------------------------------------------------------


def run(args) -> int:
    milenage_selftest()
    k = bytes.fromhex(args.k)
    op = bytes.fromhex(args.op)
    if len(k) != 16 or len(op) != 16:
        raise SystemExit("gba_client: --k and --op are 16 octets in hex")
    sqn_ms = None
    if args.sqn_ms is not None:
        sqn_ms = int.from_bytes(bytes.fromhex(args.sqn_ms), "big")
    opc = milenage_opc(k, op)

    url = urllib.parse.urlsplit(args.bsf)
    if url.scheme != "http" or not url.hostname:
        raise SystemExit("gba_client: --bsf is an http:// URL")
    host = url.hostname
    uri = "/"  # TS 24.109 A.3: the request URI is "/"

    answer_url = url
    if args.answer_bsf:  # a fleet: the challenge from one BSF, answered at another
        answer_url = urllib.parse.urlsplit(args.answer_bsf)
        if answer_url.scheme != "http" or answer_url.hostname != host:
            raise SystemExit("gba_client: --answer-bsf is an http:// URL of the same host name")

    def get(authorization: str, at=url):
        conn = http.client.HTTPConnection(host, at.port or 80, timeout=10)
        try:
            conn.request("GET", uri, headers={"Authorization": authorization,
                                              "User-Agent": "imskms-interop-gba-client/1"})
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, resp.headers, body
        except OSError as e:
            raise Fail(f"HTTP to {args.bsf}: {e}") from e
        finally:
            conn.close()

    # Step 1 (TS 24.109 A.3): ask for a challenge; realm = BSF FQDN, nonce and response empty.
    status, headers, _ = get(
        f'Digest username={quote(args.impi)}, realm={quote(host)}, nonce="", uri={quote(uri)}, response=""'
    )
    if status != 401:
        raise Fail(f"first GET: status {status}, expected 401")
    challenges = headers.get_all("WWW-Authenticate") or []
    if len(challenges) != 1:
        raise Fail(f"401 with {len(challenges)} WWW-Authenticate headers")
    ch = parse_digest_challenge(challenges[0])
    for need in ("realm", "nonce"):
        if need not in ch:
            raise Fail(f"challenge without {need}: {challenges[0]!r}")
    if ch.get("algorithm", "").lower() != "akav1-md5":  # RFC 3310 3.1
        raise Fail(f"challenge algorithm {ch.get('algorithm')!r}, expected AKAv1-MD5")
    qops = [q.strip() for q in ch.get("qop", "").split(",")]
    if "auth-int" not in qops:  # TS 24.109 A.3 / H.2: qop="auth-int"
        raise Fail(f"challenge qop {ch.get('qop')!r} does not offer auth-int")
    realm = ch["realm"]

    # RFC 3310 3.2: nonce = base64(RAND || AUTN || server-specific data).
    try:
        raw = base64.b64decode(ch["nonce"], validate=True)
    except ValueError as e:
        raise Fail(f"nonce is not base64: {ch['nonce']!r}") from e
    if len(raw) < 32:
        raise Fail(f"nonce decodes to {len(raw)} octets, fewer than RAND || AUTN")
    rand, autn = raw[0:16], raw[16:32]

    # TS 33.102 6.3.3: AUTN = SQN xor AK || AMF || MAC-A; the USIM recovers SQN and checks MAC-A.
    v = milenage(k, opc, rand, bytes(6), bytes(2))  # f5 (AK) depends on RAND only
    sqn = xor(autn[0:6], v["f5"])
    amf = autn[6:8]
    v = milenage(k, opc, rand, sqn, amf)
    if not hmac.compare_digest(v["f1"], autn[8:16]):
        raise Fail(f"MAC-A does not verify (AUTN {autn.hex()}, XMAC-A {v['f1'].hex()}): wrong K/OP or a forged challenge")
    if sqn_ms is not None and int.from_bytes(sqn, "big") <= sqn_ms:
        raise Fail(f"SQN {sqn.hex()} is not fresh (SQN_MS {sqn_ms:012x})")
    res, ck, ik = v["f2"], v["f3"], v["f4"]

    # Step 3: the answer (RFC 2617 3.2.2, RES as the password per RFC 3310 3.3).
    qop = "auth-int"
    nc = "00000001"
    cnonce = os.urandom(16).hex()
    ha1 = md5hex(args.impi.encode() + b":" + realm.encode() + b":" + res)
    a2 = b"GET:" + uri.encode() + b":" + md5hex(b"").encode()  # empty request entity-body
    response = digest_response(ha1, ch["nonce"], nc, cnonce, qop, a2)
    parts = [
        f"username={quote(args.impi)}",
        f"realm={quote(realm)}",
        f"nonce={quote(ch['nonce'])}",
        f"uri={quote(uri)}",
        f"qop={qop}",
        f"nc={nc}",
        f"cnonce={quote(cnonce)}",
        f"response={quote(response)}",
    ]
    if "opaque" in ch:  # RFC 2617 3.2.2: opaque is returned unchanged
        parts.append(f"opaque={quote(ch['opaque'])}")
    parts.append(f"algorithm={ch['algorithm']}")
    status, headers, body = get("Digest " + ", ".join(parts), answer_url)
    if status != 200:
        raise Fail(f"answer: status {status}, expected 200")

    # RFC 2617 3.2.3 / RFC 3310 3.5: the BSF proves XRES (= RES) over the 200 body.
    infos = headers.get_all("Authentication-Info") or []
    if len(infos) != 1:
        raise Fail(f"200 with {len(infos)} Authentication-Info headers")
    info = parse_auth_params(infos[0])
    if "rspauth" not in info:
        raise Fail(f"Authentication-Info without rspauth: {infos[0]!r}")
    if info.get("qop", qop) != qop or info.get("cnonce", cnonce) != cnonce or info.get("nc", nc) != nc:
        raise Fail(f"Authentication-Info does not echo qop/cnonce/nc: {infos[0]!r}")
    a2s = b":" + uri.encode() + b":" + md5hex(body).encode()
    want = digest_response(ha1, ch["nonce"], nc, cnonce, qop, a2s)
    if not hmac.compare_digest(info["rspauth"].lower(), want):
        raise Fail(f"rspauth {info['rspauth']} != {want}: the BSF did not prove XRES over this body")

    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/vnd.3gpp.bsf+xml":
        raise Fail(f"200 Content-Type {headers.get('Content-Type')!r}")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise Fail(f"BootstrappingInfo is not XML: {e}") from e
    ns = "{uri:3gpp-gba}"
    if root.tag != ns + "BootstrappingInfo":
        raise Fail(f"root element {root.tag!r}, expected {ns}BootstrappingInfo")
    btid = root.findtext(ns + "btid")
    lifetime = root.findtext(ns + "lifetime")
    if not btid or not lifetime:
        raise Fail("BootstrappingInfo without btid or lifetime")

    print(f"btid={btid}")
    print(f"lifetime={lifetime}")
    print(f"rand={rand.hex()}")
    if args.naf_fqdn:
        print(f"ks_naf={ks_naf(ck, ik, rand, args.impi, args.naf_fqdn).hex()}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Independent GBA Ub (Digest AKAv1-MD5) client")
    p.add_argument("--bsf", help="BSF URL, http://HOST:PORT/")
    p.add_argument("--answer-bsf", help="send the answer to this BSF URL (same host name) instead")
    p.add_argument("--impi")
    p.add_argument("--k", help="subscriber key K, 32 hex digits")
    p.add_argument("--op", help="operator variant OP, 32 hex digits")
    p.add_argument("--sqn-ms", help="highest SQN already accepted (12 hex digits)")
    p.add_argument("--naf-fqdn", help="also print Ks_NAF for this NAF (Ua id 01 00 00 00 06)")
    p.add_argument("--self-test", action="store_true", help="check Milenage and the KDF only")
    args = p.parse_args(argv)
    try:
        if args.self_test:
            milenage_selftest()
            kdf_selftest()
            print("self-test ok")
            return 0
        if not (args.bsf and args.impi and args.k and args.op):
            p.error("--bsf, --impi, --k and --op are required")
        return run(args)
    except Fail as e:
        print(f"gba_client: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # bad hex in the arguments
        print(f"gba_client: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
