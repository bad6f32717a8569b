#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Regenerates tests/vectors/mikey_prf_model.txt from an independent model of the MIKEY PRF, the
MIKEY key-derivation labels and AES-CM key-data encryption, written from the RFC text as
summarised in docs/protocol-facts.md 4.5-4.7 and 5.6 (not from imskms' C code):

  RFC 3830 4.1.2  PRF (MIKEY-1, HMAC-SHA-1), P function, 256-bit inkey chunks, XOR of the P outputs
  RFC 6043 6.1    PRF-HMAC-SHA-256: the same construction with HMAC-SHA-256, 256 instead of 160
  RFC 3830 4.1.3  labels for keys derived from a TGK: constant || cs_id || csb_id || RAND
  RFC 3830 4.1.4  labels for keys derived from a PSK / envelope key: constant || 0xFF || csb_id || RAND
  RFC 6043 5.1    labels of MIKEY-TICKET messages: constant || 0xFF || csb_id || 0x01|0x02 ||
                  len RANDRi || RANDRi || len RANDRr || RANDRr; and from a TGK in Ticket Transfer:
                  constant || cs_id || 0xFFFFFFFF || 0x03 || len RANDRi || RANDRi || len RANDRr || RANDRr
  RFC 3830 4.2.3  AES-CM (SRTP AES-CM, prefix length 0):
                  IV = (salt xor (0x0000 || CSB ID || T)) || 0x0000, 16-bit block counter

HMAC comes from Python's standard library (hmac, hashlib); AES in counter mode from the
`openssl enc` command line tool. Usage: mk_mikey_prf.py [--check FILE]

With --srtp it writes tests/vectors/srtp_tek_model.txt instead (--check-srtp FILE compares): the
SRTP master key (TEK) and master salt of each crypto session of a Ticket Transfer, from the TGK
with the RFC 6043 5.1.3 label (H = 1 and G = 1: both RANDRi and RANDRr), for the lengths of each
SRTP policy of docs/media.md: RFC 3830 6.10.1 (AES-CM-128: 16-octet key, 14-octet salt),
RFC 6188 (AES-256-CM: 32, 14), RFC 7714 8.2 / 14.3 (AEAD_AES_128_GCM: 16, 12).
"""
import hashlib
import hmac
import subprocess
import sys

HASHES = {"hmac-sha1": (hashlib.sha1, 160), "hmac-sha256": (hashlib.sha256, 256)}

# RFC 3830 4.1.3 (from a TGK) and 4.1.4 (from a PSK or envelope key).
TGK_TEK, TGK_AUTH, TGK_ENCR, TGK_SALT = 0x2AD01C64, 0x1B5C7973, 0x15798CEF, 0x39A2C14B
PSK_ENCR, PSK_AUTH, PSK_SALT = 0x150533E1, 0x2D22AC75, 0x29B88916

# KEMAC algorithms (RFC 3830 6.2, RFC 6043 6.2): key and salt lengths in octets.
ENCR = {0: (0, 0), 1: (16, 14), 3: (32, 14)}   # NULL, AES-CM-128, AES-CM-256
MAC = {0: 0, 1: 20, 2: 32}                       # NULL, HMAC-SHA-1-160, HMAC-SHA-256-256


def h(b):
    return b.hex()


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def p_function(hashfn, s, label, m):
    """P(s, label, m) = HMAC(s, A_1 || label) || ... || HMAC(s, A_m || label),
    A_0 = label, A_i = HMAC(s, A_(i-1))."""
    a = label
    out = b""
    for _ in range(m):
        a = hmac.new(s, a, hashfn).digest()
        out += hmac.new(s, a + label, hashfn).digest()
    return out


def prf(name, inkey, label, outlen):
    """PRF(inkey, label): inkey split into 256-bit chunks s_1..s_n (the last may be shorter);
    m = ceil(outkey_len / 160) (256 for PRF-HMAC-SHA-256); the first outkey_len bits of
    P(s_1, label, m) xor ... xor P(s_n, label, m)."""
    hashfn, block_bits = HASHES[name]
    assert inkey and 0 < outlen
    m = -(-(outlen * 8) // block_bits)
    out = bytes(outlen)
    for i in range(0, len(inkey), 32):
        out = xor(out, p_function(hashfn, inkey[i:i + 32], label, m)[:outlen])
    return out


def be32(v):
    return v.to_bytes(4, "big")


def label_tgk(const, cs_id, csb_id, rand):
    return be32(const) + bytes([cs_id]) + be32(csb_id) + rand


def label_psk(const, csb_id, rand):
    return be32(const) + b"\xff" + be32(csb_id) + rand


def label_ticket(const, csb_id, msg, randri, randrr):
    return (be32(const) + b"\xff" + be32(csb_id) + bytes([msg]) +
            bytes([len(randri)]) + randri + bytes([len(randrr)]) + randrr)


def label_ticket_tgk(const, cs_id, randri, randrr):
    return (be32(const) + bytes([cs_id]) + be32(0xFFFFFFFF) + b"\x03" +
            bytes([len(randri)]) + randri + bytes([len(randrr)]) + randrr)


def aes_cm_iv(salt, csb_id, t):
    assert len(salt) == 14
    return xor(salt, b"\x00\x00" + be32(csb_id) + t.to_bytes(8, "big")) + b"\x00\x00"


def aes_cm(key, iv, data):
    cipher = {16: "-aes-128-ctr", 32: "-aes-256-ctr"}[len(key)]
    r = subprocess.run(["openssl", "enc", cipher, "-K", h(key), "-iv", h(iv)],
                       input=data, capture_output=True, check=True)
    assert len(r.stdout) == len(data)
    return r.stdout


def block(name, pairs):
    lines = ["", "[%s]" % name]
    for k, v in pairs:
        lines.append(("%s = %s" % (k, v.hex() if isinstance(v, bytes) else v)).rstrip())
    return lines


def msg_key_lines(prf_name, inkey, encr_alg, mac_alg, make_label):
    """Labels and keys for one message: encr_key, auth_key, salt_key as the algorithms ask."""
    key_len, salt_len = ENCR[encr_alg]
    lines = []
    for what, const, n in (("encr", PSK_ENCR, key_len), ("auth", PSK_AUTH, MAC[mac_alg]),
                           ("salt", PSK_SALT, salt_len)):
        lab = make_label(const)
        lines.append((what + "_label", lab))
        lines.append((what + "_key" if what != "salt" else "salt",
                      prf(prf_name, inkey, lab, n) if n else b""))
    return lines


def generate():
    out = [
        "# MIKEY PRF, key derivations and AES-CM known-answer data.",
        "# Source: no published test vectors exist for the MIKEY-1 (HMAC-SHA-1) PRF, the RFC 6043",
        "# labels or MIKEY AES-CM (docs/protocol-facts.md 4.5, 7). These values were computed by",
        "# tests/vectors/mk_mikey_prf.py, an independent model written from the RFC text",
        "# (RFC 3830 4.1.2, 4.1.3, 4.1.4, 4.2.3; RFC 6043 5.1, 6.1) with Python's hmac/hashlib and",
        "# the openssl enc command line tool, independently of imskms. The model also reproduces",
        "# the Streamwide PRF-HMAC-SHA-256 vectors of mikey_prf.txt and the values recorded in",
        "# docs/protocol-facts.md 4.5, 4.7 and 5.6. A CTest re-runs the model against this file.",
    ]
    psk = bytes(range(32))
    psk40 = bytes(range(40))
    rand = bytes(range(0xA0, 0xB0))
    csb = 0x01020304
    lab = label_psk(PSK_ENCR, csb, rand)

    # The PRF alone: one 256-bit chunk, two chunks (40 octets), one short chunk.
    for name in ("hmac-sha1", "hmac-sha256"):
        short = name.replace("hmac-", "")
        for key, kname in ((psk, "inkey32"), (psk40, "inkey40"), (psk[:16], "inkey16")):
            lens = (16, 20, 32, 40) if kname != "inkey16" else (40,)
            for n in lens:
                out += block("prf %s %s out%d" % (short, kname, n),
                             [("prf", name), ("inkey", key), ("label", lab),
                              ("out", prf(name, key, lab, n))])

    # RFC 3830 4.1.4: the keys of a PSK message (protocol-facts 4.5 example).
    k3830 = msg_key_lines("hmac-sha1", psk, 1, 1, lambda c: label_psk(c, csb, rand))
    out += block("rfc3830 psk keys aes-cm-128 hmac-sha1-160",
                 [("prf", "hmac-sha1"), ("psk", psk), ("csb_id", "%08x" % csb), ("rand", rand),
                  ("encr_alg", "1"), ("mac_alg", "1")] + k3830)
    keys = dict(k3830)
    assert h(keys["encr_key"]) == "fc61f199821acb262bfe0c6aeaff9c8e"
    assert h(keys["auth_key"]) == "1af69ee343a21838769ac42453a04826b3840b0e"
    assert h(keys["salt"]) == "de91c1ee0b8e32e96b1309ca0e28"

    # RFC 3830 4.1.3: TEK, auth, encr and salt keys from a TGK with MIKEY-1.
    tgk = bytes(range(0x40, 0x60))
    pairs = [("prf", "hmac-sha1"), ("tgk", tgk), ("cs_id", "01"), ("csb_id", "%08x" % csb),
             ("rand", rand)]
    for what, const, n in (("tek", TGK_TEK, 16), ("auth", TGK_AUTH, 20), ("encr", TGK_ENCR, 16),
                           ("salt", TGK_SALT, 14)):
        lab_t = label_tgk(const, 1, csb, rand)
        pairs += [(what + "_label", lab_t), (what, prf("hmac-sha1", tgk, lab_t, n))]
    out += block("rfc3830 tgk keys mikey1", pairs)

    # RFC 6043 5.1: an initial message (RANDRi only) and a response (both RANDs).
    randrr = bytes(range(0xB0, 0xC4))
    cases = (("initial", 1, rand, b"", 1, 2), ("response", 2, rand, randrr, 3, 2),
             ("initial", 1, rand, b"", 3, 1))
    for what, msg, ri, rr, ea, ma in cases:
        kt = msg_key_lines("hmac-sha256", psk, ea, ma,
                           lambda c, msg=msg, ri=ri, rr=rr: label_ticket(c, csb, msg, ri, rr))
        out += block("rfc6043 %s encr%d mac%d" % (what, ea, ma),
                     [("prf", "hmac-sha256"), ("inkey", psk), ("csb_id", "%08x" % csb),
                      ("msg", "%02x" % msg), ("randri", ri), ("randrr", rr),
                      ("encr_alg", str(ea)), ("mac_alg", str(ma))] + kt)
        if (msg, ea, ma) == (1, 1, 2):
            assert h(dict(kt)["auth_key"]) == ("46af590157b4dedeec2f175b8495af35"
                                              "ada156a55860e26f16fbe1efad08f3dd")
        if (msg, ea, ma) == (2, 3, 2):
            k6043_256 = dict(kt)

    # RFC 6043 5.1: TEK and salt from a TGK in Ticket Transfer.
    pairs = [("prf", "hmac-sha256"), ("tgk", tgk), ("cs_id", "02"), ("randri", rand),
             ("randrr", randrr)]
    for what, const, n in (("tek", TGK_TEK, 16), ("salt", TGK_SALT, 14)):
        lab_t = label_ticket_tgk(const, 2, rand, randrr)
        pairs += [(what + "_label", lab_t), (what, prf("hmac-sha256", tgk, lab_t, n))]
    out += block("rfc6043 transfer tgk keys", pairs)

    # RFC 3830 4.2.3: AES-CM-128 with the keys above; AES-CM-256 with the RFC 6043 response keys.
    plain = bytes(range(0x20, 0x48))
    t = 0xE9B1C0DE00000000
    for name, key, salt in (("aes-cm-128", keys["encr_key"], keys["salt"]),
                            ("aes-cm-256", k6043_256["encr_key"], k6043_256["salt"])):
        iv = aes_cm_iv(salt, csb, t)
        if name == "aes-cm-128":
            assert h(iv) == "de91c0ec088adb58abcd09ca0e280000"
        out += block(name, [("key", key), ("salt", salt), ("csb_id", "%08x" % csb),
                            ("t", "%016x" % t), ("iv", iv), ("plaintext", plain),
                            ("ciphertext", aes_cm(key, iv, plain))])

    # KEMAC / V MACs: full-length HMAC-SHA-1-160 and HMAC-SHA-256-256 over two parts.
    msg1, msg2 = bytes(range(0x01, 0x31)), b"\x00\x01\x02\x03"
    for name, fn, key in (("hmac-sha1-160", hashlib.sha1, keys["auth_key"]),
                          ("hmac-sha256-256", hashlib.sha256, bytes(range(0x60, 0x80)))):
        out += block("mac " + name, [("key", key), ("part1", msg1), ("part2", msg2),
                                     ("mac", hmac.new(key, msg1 + msg2, fn).digest())])
    return "\n".join(out) + "\n"


# Master key and salt lengths of the SRTP policies (RFC 3830 6.10.1, RFC 6188, RFC 7714).
SRTP_POLICIES = (("aes128-hmac80", 16, 14), ("aes256-hmac80", 32, 14), ("aes128-gcm", 16, 12))


def generate_srtp():
    out = [
        "# SRTP master keys and salts of MIKEY-TICKET crypto sessions (RFC 6043 5.1.3).",
        "# Source: no published vectors exist. Computed by tests/vectors/mk_mikey_prf.py --srtp, an",
        "# independent model written from the RFC text (RFC 3830 4.1.2 PRF and 4.1.3 constants with",
        "# RFC 6043 6.1 PRF-HMAC-SHA-256; the RFC 6043 5.1.3 label constant || CS ID || 0xFFFFFFFF",
        "# || 0x03 || len RANDRi || RANDRi || len RANDRr || RANDRr) with Python's hmac/hashlib,",
        "# independently of imskms. Key and salt lengths per policy: RFC 3830 6.10.1, RFC 6188,",
        "# RFC 7714 8.2. A CTest re-runs the model against this file.",
    ]
    randri = bytes(range(0xA0, 0xB0))
    randrr = bytes(range(0xC0, 0xD0))
    for tgk_name, tgk in (("tgk16", bytes(range(0x40, 0x50))), ("tgk32", bytes(range(0x40, 0x60)))):
        for name, key_len, salt_len in SRTP_POLICIES:
            for cs_id in (1, 2):
                lk = label_ticket_tgk(TGK_TEK, cs_id, randri, randrr)
                ls = label_ticket_tgk(TGK_SALT, cs_id, randri, randrr)
                out += block("srtp %s %s cs%d" % (name, tgk_name, cs_id),
                             [("policy", name), ("tgk", tgk), ("cs_id", "%02x" % cs_id),
                              ("randri", randri), ("randrr", randrr), ("tek_label", lk),
                              ("tek", prf("hmac-sha256", tgk, lk, key_len)), ("salt_label", ls),
                              ("salt", prf("hmac-sha256", tgk, ls, salt_len))])
    return "\n".join(out) + "\n"


def check_streamwide(path):
    """The model against the published PRF-HMAC-SHA-256 values of mikey_prf.txt."""
    blocks, cur = [], None
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                cur = {}
                blocks.append(cur)
            else:
                k, v = (x.strip() for x in line.split("=", 1))
                cur[k] = v
    for b in blocks:
        inkey, rand = bytes.fromhex(b["inkey"]), bytes.fromhex(b["rand"])
        cs, csb = int(b["cs_id"], 16), int(b["csb_id"], 16)
        key_name, const = ("tek", TGK_TEK) if "tek" in b else ("encr_key", TGK_ENCR)
        for k, c in ((key_name, const), ("salt", TGK_SALT)):
            want = bytes.fromhex(b[k])
            got = prf(b["prf"], inkey, label_tgk(c, cs, csb, rand), len(want))
            assert got == want, "Streamwide vector %s: %s" % (k, got.hex())
    return len(blocks)


def main():
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    n = check_streamwide(here + "/mikey_prf.txt")
    srtp = len(sys.argv) >= 2 and sys.argv[1] in ("--srtp", "--check-srtp")
    text = generate_srtp() if srtp else generate()
    if len(sys.argv) == 2 and sys.argv[1] == "--srtp":
        sys.stdout.write(text)
        return 0
    if len(sys.argv) == 3 and sys.argv[1] in ("--check", "--check-srtp"):
        with open(sys.argv[2], encoding="ascii") as f:
            if f.read() != text:
                print("mk_mikey_prf.py: %s differs from what the model computes" % sys.argv[2],
                      file=sys.stderr)
                return 1
        print("mk_mikey_prf.py: %s matches the model (and %d Streamwide vectors)" %
              (sys.argv[2], n))
        return 0
    if len(sys.argv) != 1:
        print("usage: mk_mikey_prf.py [--check FILE | --srtp | --check-srtp FILE]",
              file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
