/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BootstrappingInfo (TS 24.109 annex C): formatter and strict parser. What is accepted and
 * why there is no XML library is in the header. The parser is one iterative loop over the
 * document with an explicit element stack (bounded depth, never recursion), a stack of
 * namespace bindings reduced to "is this prefix bound to uri:3gpp-gba", and a small capture
 * buffer for the text of <btid> and <lifetime>.
 */
#include "gba/kms_bsfinfo.h"

#include <stdbool.h>
#include <string.h>

#include "util/kms_cur.h"
#include "util/kms_ident.h"
#include "util/kms_time.h"

/* TS 24.109 annex C.1 (as summarised in protocol-facts.md 2.3; clause text and version not
 * quoted here because not read first-hand): namespace uri:3gpp-gba, root BootstrappingInfo
 * with btid (xs:string), lifetime (xs:dateTime, UTC "Z"), optional Extension; receivers ignore
 * unknown elements and attributes. type=exception: we take btid and lifetime to be in the
 * namespace (qualified), as in every example seen (default namespace on the root); an
 * unqualified <btid> under a prefixed root is therefore an unknown element. */

/* Text kept from <btid> or <lifetime>; a longer one is refused (a B-TID is at most 280
 * octets, a time at most 35 plus white space). */
#define CAPTURE_MAX 512
/* Longest element or attribute name (ours are at most 17 octets). */
#define NAME_MAX_LEN 256
/* Namespace names are only compared with KMS_BSFINFO_NS: keep this much of one. */
#define NSVAL_MAX 32

enum role { R_ROOT, R_BTID, R_LIFETIME, R_SKIP };

struct qname {
    const uint8_t *p; /* the raw name, prefix included */
    size_t len;
    size_t plen; /* prefix length (0: none); the local part starts at p + plen + 1 */
};

struct elem {
    struct qname name;
    enum role role;
    size_t ns_before; /* bindings in scope before this element's own */
};

struct binding {
    const uint8_t *prefix; /* NULL / 0 for the default namespace */
    size_t plen;
    bool gba;
};

/* Where decoded characters go: optionally a buffer; always a note of non-white-space. */
struct sink {
    uint8_t *buf;
    size_t cap, len;
    bool overflow;
    bool non_ws;
};

struct xp {
    struct kms_cur c;
    struct elem st[KMS_BSFINFO_DEPTH_MAX];
    size_t depth;
    struct binding ns[KMS_BSFINFO_NS_MAX];
    size_t n_ns;
    bool root_done;
    struct sink text; /* the capture of the current <btid>/<lifetime> */
    uint8_t capture[CAPTURE_MAX];
    bool have_btid, have_lifetime;
    char *btid;
    size_t btid_cap;
    uint64_t lifetime;
};

static bool is_ws(int b)
{
    return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

/* Moves past one octet the caller has seen to be there. */
static void next1(struct kms_cur *c)
{
    uint8_t b;
    kms_result r = kms_cur_get_u8(c, &b);
    (void)r;
}

static int peek(const struct kms_cur *c)
{
    return c->len > 0 ? c->p[0] : -1;
}

enum match { M_NO, M_YES, M_PART };

/* Whether the input continues with lit: M_PART when what is left is a proper prefix of it. */
static enum match match(const struct kms_cur *c, const char *lit)
{
    size_t n = strlen(lit);
    size_t k = c->len < n ? c->len : n;
    if (k > 0 && memcmp(c->p, lit, k) != 0) {
        return M_NO;
    }
    return k == n ? M_YES : M_PART;
}

static kms_result eat(struct kms_cur *c, const char *lit)
{
    enum match m = match(c, lit);
    KMS_ENSURE(m != M_PART, KMS_ERR_TRUNCATED);
    KMS_ENSURE(m == M_YES, KMS_ERR_MALFORMED);
    return kms_cur_skip(c, strlen(lit));
}

static size_t skip_ws(struct kms_cur *c)
{
    size_t n = 0;
    while (c->len > 0 && is_ws(c->p[0])) {
        next1(c);
        n++;
    }
    return n;
}

static bool lit_eq(const uint8_t *p, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static bool xml_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
           (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/* The whole document is UTF-8 (shortest forms, no surrogates) of XML Chars. */
static kms_result check_chars(const uint8_t *p, size_t n)
{
    struct kms_cur c;
    kms_cur_init(&c, p, n);
    while (c.len > 0) {
        uint8_t b;
        KMS_TRY(kms_cur_get_u8(&c, &b));
        uint32_t cp;
        size_t more;
        uint32_t min;
        if (b < 0x80) {
            cp = b;
            more = 0;
            min = 0;
        } else if ((b & 0xe0) == 0xc0) {
            cp = b & 0x1fu;
            more = 1;
            min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            cp = b & 0x0fu;
            more = 2;
            min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            cp = b & 0x07u;
            more = 3;
            min = 0x10000;
        } else {
            KMS_BAIL(KMS_ERR_MALFORMED);
        }
        for (size_t i = 0; i < more; i++) {
            uint8_t cb;
            KMS_TRY(kms_cur_get_u8(&c, &cb));
            KMS_ENSURE((cb & 0xc0) == 0x80, KMS_ERR_MALFORMED);
            cp = cp << 6 | (cb & 0x3fu);
        }
        KMS_ENSURE(cp >= min && xml_char(cp), KMS_ERR_MALFORMED);
    }
    return KMS_RESULT_OK;
}

static void sink_put(struct sink *s, uint8_t b)
{
    if (!is_ws(b)) {
        s->non_ws = true;
    }
    if (s->buf == NULL) {
        return;
    }
    if (s->len == s->cap) {
        s->overflow = true;
        return;
    }
    s->buf[s->len++] = b;
}

/* A reference after '&' up to ';': the five predefined entities or a character reference.
 * A character outside ASCII reaches the sink as 0x80, which no value we extract accepts. */
static kms_result get_ref(struct kms_cur *c, struct sink *s)
{
    static const struct {
        const char *name;
        uint8_t ch;
    } predef[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"apos", '\''}, {"quot", '"'}};
    KMS_TRY(eat(c, "&"));
    /* The longest reference we accept is "#x10FFFF" or "#1114111" (8 octets) before ';'. */
    size_t n = 0;
    while (n < c->len && n <= 8 && c->p[n] != ';') {
        n++;
    }
    KMS_ENSURE(n < c->len || n > 8, KMS_ERR_TRUNCATED);
    KMS_ENSURE(n <= 8 && n > 0, KMS_ERR_MALFORMED);
    struct kms_cur ref;
    KMS_TRY(kms_cur_get_view(c, n, &ref));
    KMS_TRY(kms_cur_skip(c, 1)); /* ';' */
    for (size_t i = 0; i < sizeof(predef) / sizeof(predef[0]); i++) {
        if (lit_eq(ref.p, ref.len, predef[i].name)) {
            sink_put(s, predef[i].ch);
            return KMS_RESULT_OK;
        }
    }
    KMS_ENSURE(ref.p[0] == '#' && ref.len >= 2, KMS_ERR_MALFORMED);
    bool hex = ref.p[1] == 'x';
    size_t i = hex ? 2 : 1;
    KMS_ENSURE(i < ref.len, KMS_ERR_MALFORMED);
    uint32_t cp = 0;
    for (; i < ref.len; i++) {
        uint8_t d = ref.p[i];
        uint32_t v;
        if (d >= '0' && d <= '9') {
            v = (uint32_t)(d - '0');
        } else if (hex && d >= 'a' && d <= 'f') {
            v = (uint32_t)(d - 'a' + 10);
        } else if (hex && d >= 'A' && d <= 'F') {
            v = (uint32_t)(d - 'A' + 10);
        } else {
            KMS_BAIL(KMS_ERR_MALFORMED);
        }
        cp = cp * (hex ? 16u : 10u) + v; /* at most 7 digits: no overflow */
    }
    KMS_ENSURE(xml_char(cp), KMS_ERR_MALFORMED);
    /* A character reference is character data even when it is a space. */
    sink_put(s, cp < 0x80 ? (uint8_t)cp : 0x80);
    if (cp < 0x80 && is_ws((int)cp)) {
        s->non_ws = true;
    }
    return KMS_RESULT_OK;
}

/* A Name / QName of ASCII name characters (NCName [":" NCName]). */
static kms_result get_qname(struct kms_cur *c, struct qname *q)
{
    memset(q, 0, sizeof(*q));
    size_t n = 0, colon = 0;
    bool seen_colon = false;
    for (;; n++) {
        KMS_ENSURE(n < c->len, KMS_ERR_TRUNCATED);
        uint8_t b = c->p[n];
        KMS_ENSURE(b < 0x80, KMS_ERR_UNSUPPORTED);
        bool alpha = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_';
        bool start = n == 0 || (seen_colon && n == colon + 1);
        if (b == ':' && !seen_colon && n > 0) {
            seen_colon = true;
            colon = n;
            continue;
        }
        if (start) {
            KMS_ENSURE(alpha, KMS_ERR_MALFORMED);
            continue;
        }
        if (!(alpha || (b >= '0' && b <= '9') || b == '-' || b == '.')) {
            break;
        }
        KMS_ENSURE(n < NAME_MAX_LEN, KMS_ERR_TOO_LONG);
    }
    q->p = c->p;
    q->len = n;
    q->plen = seen_colon ? colon : 0;
    return kms_cur_skip(c, n);
}

static const uint8_t *local_name(const struct qname *q, size_t *len)
{
    size_t skip = q->plen > 0 ? q->plen + 1 : 0;
    *len = q->len - skip;
    return q->p + skip;
}

/* A quoted attribute value (references decoded into s, no '<'). */
static kms_result attr_value(struct kms_cur *c, struct sink *s)
{
    int q = peek(c);
    KMS_ENSURE(q >= 0, KMS_ERR_TRUNCATED);
    KMS_ENSURE(q == '"' || q == '\'', KMS_ERR_MALFORMED);
    next1(c);
    for (;;) {
        int b = peek(c);
        KMS_ENSURE(b >= 0, KMS_ERR_TRUNCATED);
        if (b == q) {
            next1(c);
            return KMS_RESULT_OK;
        }
        KMS_ENSURE(b != '<', KMS_ERR_MALFORMED);
        if (b == '&') {
            KMS_TRY(get_ref(c, s));
        } else {
            /* Attribute-value normalisation: white space becomes a space. */
            sink_put(s, is_ws(b) ? ' ' : (uint8_t)b);
            next1(c);
        }
    }
}

/* "<?xml" version [encoding] [standalone] "?>" at the start; nothing when absent. */
static kms_result xml_decl(struct kms_cur *c)
{
    if (match(c, "<?xml") != M_YES || c->len < 6 || !is_ws(c->p[5])) {
        return KMS_RESULT_OK; /* "<?xml-stylesheet" is a PI; a partial one fails later */
    }
    KMS_TRY(kms_cur_skip(c, 5));
    static const char *const names[] = {"version", "encoding", "standalone"};
    size_t next = 0;
    for (;;) {
        size_t ws = skip_ws(c);
        enum match m = match(c, "?>");
        if (m == M_YES) {
            KMS_ENSURE(next > 0, KMS_ERR_MALFORMED); /* version is required */
            return kms_cur_skip(c, 2);
        }
        KMS_ENSURE(m != M_PART && c->len > 0, KMS_ERR_TRUNCATED);
        KMS_ENSURE(ws > 0, KMS_ERR_MALFORMED);
        struct qname n;
        KMS_TRY(get_qname(c, &n));
        KMS_ENSURE(next > 0 || lit_eq(n.p, n.len, "version"), KMS_ERR_MALFORMED);
        while (next < 3 && !lit_eq(n.p, n.len, names[next])) {
            next++;
        }
        KMS_ENSURE(next < 3, KMS_ERR_MALFORMED);
        skip_ws(c);
        KMS_TRY(eat(c, "="));
        skip_ws(c);
        uint8_t v[16];
        struct sink s = {v, sizeof(v), 0, false, false};
        KMS_TRY(attr_value(c, &s));
        KMS_ENSURE(!s.overflow, KMS_ERR_UNSUPPORTED);
        bool ok;
        if (next == 0) {
            ok = lit_eq(v, s.len, "1.0");
        } else if (next == 1) {
            ok = s.len == 5 && (v[0] | 0x20) == 'u' && (v[1] | 0x20) == 't' &&
                 (v[2] | 0x20) == 'f' && v[3] == '-' && v[4] == '8';
        } else {
            ok = lit_eq(v, s.len, "yes") || lit_eq(v, s.len, "no");
        }
        KMS_ENSURE(ok, KMS_ERR_UNSUPPORTED);
        next++;
    }
}

/* Up to and including the terminator; TRUNCATED when it never comes. With no_dashes, "--"
 * must not occur before it (the comment rule). */
static kms_result skip_until(struct kms_cur *c, const char *end, bool no_dashes)
{
    for (;;) {
        enum match m = match(c, end);
        KMS_ENSURE(m != M_PART && c->len > 0, KMS_ERR_TRUNCATED);
        if (m == M_YES) {
            return kms_cur_skip(c, strlen(end));
        }
        KMS_ENSURE(!no_dashes || match(c, "--") == M_NO, KMS_ERR_MALFORMED);
        next1(c);
    }
}

static kms_result comment(struct kms_cur *c)
{
    KMS_TRY(eat(c, "<!--"));
    return skip_until(c, "-->", true);
}

static kms_result pi(struct kms_cur *c)
{
    KMS_TRY(eat(c, "<?"));
    struct qname t;
    KMS_TRY(get_qname(c, &t));
    /* The declaration only at the very start; "xml" in any case is reserved. */
    KMS_ENSURE(
        !(t.len == 3 && (t.p[0] | 0x20) == 'x' && (t.p[1] | 0x20) == 'm' && (t.p[2] | 0x20) == 'l'),
        KMS_ERR_MALFORMED);
    enum match m = match(c, "?>");
    if (m != M_YES) {
        KMS_ENSURE(m != M_PART && c->len > 0, KMS_ERR_TRUNCATED);
        KMS_ENSURE(skip_ws(c) > 0, KMS_ERR_MALFORMED);
    }
    return skip_until(c, "?>", false);
}

/* Where the text of the current context goes. */
static struct sink *text_sink(struct xp *x, struct sink *scratch)
{
    memset(scratch, 0, sizeof(*scratch));
    if (x->depth > 0) {
        enum role r = x->st[x->depth - 1].role;
        if (r == R_BTID || r == R_LIFETIME) {
            return &x->text;
        }
    }
    return scratch;
}

/* Only white space may stand outside the root and directly inside it. */
static kms_result text_allowed(const struct xp *x, const struct sink *s)
{
    if (!s->non_ws) {
        return KMS_RESULT_OK;
    }
    KMS_ENSURE(x->depth > 0, x->root_done ? KMS_ERR_TRAILING : KMS_ERR_MALFORMED);
    KMS_ENSURE(x->st[x->depth - 1].role != R_ROOT, KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

static kms_result chars(struct xp *x)
{
    struct sink scratch;
    struct sink *s = text_sink(x, &scratch);
    bool non_ws = s->non_ws;
    s->non_ws = false;
    while (x->c.len > 0 && x->c.p[0] != '<') {
        if (x->c.p[0] == '&') {
            KMS_TRY(get_ref(&x->c, s));
            continue;
        }
        KMS_ENSURE(match(&x->c, "]]>") != M_YES, KMS_ERR_MALFORMED);
        sink_put(s, x->c.p[0]);
        next1(&x->c);
    }
    KMS_TRY(text_allowed(x, s));
    s->non_ws = s->non_ws || non_ws;
    return KMS_RESULT_OK;
}

static kms_result cdata(struct xp *x)
{
    KMS_TRY(eat(&x->c, "<![CDATA["));
    KMS_ENSURE(x->depth > 0, KMS_ERR_MALFORMED);
    struct sink scratch;
    struct sink *s = text_sink(x, &scratch);
    bool non_ws = s->non_ws;
    s->non_ws = false;
    for (;;) {
        enum match m = match(&x->c, "]]>");
        KMS_ENSURE(m != M_PART && x->c.len > 0, KMS_ERR_TRUNCATED);
        if (m == M_YES) {
            KMS_TRY(kms_cur_skip(&x->c, 3));
            break;
        }
        sink_put(s, x->c.p[0]);
        next1(&x->c);
    }
    KMS_TRY(text_allowed(x, s));
    s->non_ws = s->non_ws || non_ws;
    return KMS_RESULT_OK;
}

static kms_result bind(struct xp *x, const uint8_t *prefix, size_t plen, const struct sink *v)
{
    KMS_ENSURE(x->n_ns < KMS_BSFINFO_NS_MAX, KMS_ERR_TOO_LONG);
    x->ns[x->n_ns].prefix = prefix;
    x->ns[x->n_ns].plen = plen;
    x->ns[x->n_ns].gba = !v->overflow && lit_eq(v->buf, v->len, KMS_BSFINFO_NS);
    x->n_ns++;
    return KMS_RESULT_OK;
}

/* Whether the prefix (plen 0: the default namespace) is bound to uri:3gpp-gba.
 * MALFORMED for an undeclared prefix. */
static kms_result resolve(const struct xp *x, const uint8_t *prefix, size_t plen, bool *gba)
{
    *gba = false;
    if (lit_eq(prefix, plen, "xml")) {
        return KMS_RESULT_OK;
    }
    for (size_t i = x->n_ns; i > 0; i--) {
        const struct binding *b = &x->ns[i - 1];
        if (b->plen == plen && (plen == 0 || memcmp(b->prefix, prefix, plen) == 0)) {
            *gba = b->gba;
            return KMS_RESULT_OK;
        }
    }
    KMS_ENSURE(plen == 0, KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

/* The attributes of a start tag up to '>' or "/>": duplicates refused, namespace
 * declarations bound, other attributes checked for a declared prefix and ignored. */
static kms_result attributes(struct xp *x, bool *empty)
{
    struct qname seen[KMS_BSFINFO_ATTR_MAX];
    size_t n = 0;
    *empty = false;
    for (;;) {
        size_t ws = skip_ws(&x->c);
        int b = peek(&x->c);
        KMS_ENSURE(b >= 0, KMS_ERR_TRUNCATED);
        if (b == '>') {
            next1(&x->c);
            break;
        }
        if (b == '/') {
            KMS_TRY(eat(&x->c, "/>"));
            *empty = true;
            break;
        }
        KMS_ENSURE(ws > 0, KMS_ERR_MALFORMED);
        struct qname a;
        KMS_TRY(get_qname(&x->c, &a));
        for (size_t i = 0; i < n; i++) {
            KMS_ENSURE(!(seen[i].len == a.len && memcmp(seen[i].p, a.p, a.len) == 0),
                       KMS_ERR_MALFORMED);
        }
        KMS_ENSURE(n < KMS_BSFINFO_ATTR_MAX, KMS_ERR_TOO_LONG);
        seen[n++] = a;
        skip_ws(&x->c);
        KMS_TRY(eat(&x->c, "="));
        skip_ws(&x->c);
        uint8_t v[NSVAL_MAX];
        struct sink s = {v, sizeof(v), 0, false, false};
        KMS_TRY(attr_value(&x->c, &s));
        size_t llen;
        const uint8_t *local = local_name(&a, &llen);
        if (lit_eq(a.p, a.len, "xmlns")) {
            KMS_TRY(bind(x, NULL, 0, &s));
        } else if (lit_eq(a.p, a.plen, "xmlns")) {
            /* xmlns:xmlns is forbidden and xmlns:p="" undeclares nothing in XML 1.0. */
            KMS_ENSURE(!lit_eq(local, llen, "xmlns") && s.len > 0, KMS_ERR_MALFORMED);
            KMS_TRY(bind(x, local, llen, &s));
        }
    }
    /* Prefixed attributes need a declared prefix (checked once all declarations are in). */
    for (size_t i = 0; i < n; i++) {
        bool gba;
        if (seen[i].plen > 0 && !lit_eq(seen[i].p, seen[i].plen, "xmlns")) {
            KMS_TRY(resolve(x, seen[i].p, seen[i].plen, &gba));
        }
    }
    return KMS_RESULT_OK;
}

static kms_result end_element(struct xp *x)
{
    struct elem *e = &x->st[x->depth - 1];
    if (e->role == R_BTID) {
        KMS_ENSURE(!x->text.overflow, KMS_ERR_TOO_LONG);
        KMS_TRY(kms_ident_check_btid((const char *)x->capture, x->text.len));
        KMS_ENSURE(x->text.len < x->btid_cap, KMS_ERR_TOO_LONG);
        memcpy(x->btid, x->capture, x->text.len);
        x->btid[x->text.len] = '\0';
        x->have_btid = true;
    } else if (e->role == R_LIFETIME) {
        KMS_ENSURE(!x->text.overflow, KMS_ERR_TOO_LONG);
        /* xs:dateTime has whiteSpace="collapse": surrounding white space is not content. */
        size_t a = 0, z = x->text.len;
        while (a < z && is_ws(x->capture[a])) {
            a++;
        }
        while (z > a && is_ws(x->capture[z - 1])) {
            z--;
        }
        KMS_TRY(kms_time_parse((const char *)x->capture + a, z - a, &x->lifetime));
        x->have_lifetime = true;
    }
    x->n_ns = e->ns_before;
    x->depth--;
    if (x->depth == 0) {
        x->root_done = true;
    }
    return KMS_RESULT_OK;
}

static kms_result start_tag(struct xp *x)
{
    KMS_TRY(eat(&x->c, "<"));
    KMS_ENSURE(!x->root_done, KMS_ERR_TRAILING);
    KMS_ENSURE(x->depth < KMS_BSFINFO_DEPTH_MAX, KMS_ERR_TOO_LONG);
    struct elem *e = &x->st[x->depth];
    KMS_TRY(get_qname(&x->c, &e->name));
    e->ns_before = x->n_ns;
    bool empty, gba;
    KMS_TRY(attributes(x, &empty));
    KMS_TRY(resolve(x, e->name.p, e->name.plen, &gba));
    size_t llen;
    const uint8_t *local = local_name(&e->name, &llen);
    if (x->depth == 0) {
        KMS_ENSURE(gba && lit_eq(local, llen, "BootstrappingInfo"), KMS_ERR_MALFORMED);
        e->role = R_ROOT;
    } else {
        enum role parent = x->st[x->depth - 1].role;
        KMS_ENSURE(parent == R_ROOT || parent == R_SKIP, KMS_ERR_MALFORMED);
        e->role = R_SKIP;
        if (parent == R_ROOT && gba && lit_eq(local, llen, "btid")) {
            KMS_ENSURE(!x->have_btid, KMS_ERR_MALFORMED);
            e->role = R_BTID;
        } else if (parent == R_ROOT && gba && lit_eq(local, llen, "lifetime")) {
            KMS_ENSURE(!x->have_lifetime, KMS_ERR_MALFORMED);
            e->role = R_LIFETIME;
        }
    }
    if (e->role == R_BTID || e->role == R_LIFETIME) {
        memset(&x->text, 0, sizeof(x->text));
        x->text.buf = x->capture;
        x->text.cap = sizeof(x->capture);
    }
    x->depth++;
    return empty ? end_element(x) : KMS_RESULT_OK;
}

static kms_result end_tag(struct xp *x)
{
    KMS_TRY(eat(&x->c, "</"));
    struct qname n;
    KMS_TRY(get_qname(&x->c, &n));
    skip_ws(&x->c);
    KMS_TRY(eat(&x->c, ">"));
    KMS_ENSURE(x->depth > 0, x->root_done ? KMS_ERR_TRAILING : KMS_ERR_MALFORMED);
    const struct qname *open = &x->st[x->depth - 1].name;
    KMS_ENSURE(open->len == n.len && memcmp(open->p, n.p, n.len) == 0, KMS_ERR_MALFORMED);
    return end_element(x);
}

/* One markup construct or one run of text. */
static kms_result step(struct xp *x)
{
    if (x->c.p[0] != '<') {
        return chars(x);
    }
    enum match m;
    if ((m = match(&x->c, "<!--")) != M_NO) {
        KMS_ENSURE(m == M_YES, KMS_ERR_TRUNCATED);
        return comment(&x->c);
    }
    if ((m = match(&x->c, "<![CDATA[")) != M_NO) {
        KMS_ENSURE(m == M_YES, KMS_ERR_TRUNCATED);
        return cdata(x);
    }
    if ((m = match(&x->c, "<!DOCTYPE")) != M_NO) {
        KMS_ENSURE(m == M_YES, KMS_ERR_TRUNCATED);
        KMS_BAIL(KMS_ERR_UNSUPPORTED);
    }
    if ((m = match(&x->c, "<!")) != M_NO) {
        KMS_ENSURE(m == M_YES, KMS_ERR_TRUNCATED);
        KMS_BAIL(KMS_ERR_MALFORMED);
    }
    if (match(&x->c, "<?") == M_YES) {
        return pi(&x->c);
    }
    if (match(&x->c, "</") == M_YES) {
        return end_tag(x);
    }
    KMS_ENSURE(x->c.len > 1, KMS_ERR_TRUNCATED);
    return start_tag(x);
}

static kms_result parse(struct xp *x, const uint8_t *p, size_t n)
{
    KMS_ENSURE(n <= KMS_BSFINFO_MAX, KMS_ERR_TOO_LONG);
    KMS_TRY(check_chars(p, n));
    kms_cur_init(&x->c, p, n);
    if (match(&x->c, "\xef\xbb\xbf") == M_YES) {
        KMS_TRY(kms_cur_skip(&x->c, 3));
    }
    KMS_TRY(xml_decl(&x->c));
    while (x->c.len > 0) {
        KMS_TRY(step(x));
    }
    KMS_ENSURE(x->root_done, KMS_ERR_TRUNCATED);
    KMS_ENSURE(x->have_btid && x->have_lifetime, KMS_ERR_MALFORMED);
    return KMS_RESULT_OK;
}

kms_result kms_bsfinfo_parse(const uint8_t *p, size_t n, char *btid, size_t cap, uint64_t *lifetime)
{
    KMS_ENSURE(btid != NULL && cap > 0 && lifetime != NULL, KMS_ERR_ARG);
    memset(btid, 0, cap);
    *lifetime = 0;
    KMS_ENSURE(p != NULL || n == 0, KMS_ERR_ARG);
    struct xp x;
    memset(&x, 0, sizeof(x));
    x.btid = btid;
    x.btid_cap = cap;
    kms_result r = parse(&x, p, n);
    if (!kms_ok(r)) {
        memset(btid, 0, cap);
        return r;
    }
    *lifetime = x.lifetime;
    return KMS_RESULT_OK;
}

static kms_result put_str(struct kms_buf *b, const char *s)
{
    return kms_buf_put_bytes(b, (const uint8_t *)s, strlen(s));
}

static kms_result put_escaped(struct kms_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            KMS_TRY(put_str(b, "&amp;"));
            break;
        case '<':
            KMS_TRY(put_str(b, "&lt;"));
            break;
        case '>':
            KMS_TRY(put_str(b, "&gt;"));
            break;
        case '"':
            KMS_TRY(put_str(b, "&quot;"));
            break;
        case '\'':
            KMS_TRY(put_str(b, "&apos;"));
            break;
        default:
            KMS_TRY(kms_buf_put_u8(b, (uint8_t)s[i]));
            break;
        }
    }
    return KMS_RESULT_OK;
}

static kms_result format(const char *btid, size_t n, const char *t, struct kms_buf *out)
{
    KMS_TRY(put_str(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<BootstrappingInfo xmlns=\"" KMS_BSFINFO_NS "\"><btid>"));
    KMS_TRY(put_escaped(out, btid, n));
    KMS_TRY(put_str(out, "</btid><lifetime>"));
    KMS_TRY(put_str(out, t));
    return put_str(out, "</lifetime></BootstrappingInfo>");
}

kms_result kms_bsfinfo_format(const char *btid, uint64_t lifetime, struct kms_buf *out)
{
    KMS_ENSURE_REF(btid);
    KMS_ENSURE_REF(out);
    size_t n = strnlen(btid, KMS_BTID_MAX);
    KMS_TRY(kms_ident_check_btid(btid, n));
    char t[KMS_TIME_STR_LEN];
    KMS_TRY(kms_time_format(lifetime, t));
    size_t mark = kms_buf_len(out);
    kms_result r = format(btid, n, t, out);
    if (!kms_ok(r)) {
        kms_buf_truncate(out, mark);
    }
    return r;
}
