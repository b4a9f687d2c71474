/* The message catalogue codec (proto/msg.h): round trips of every type, the size query, and every
 * class of malformed input: truncation at each length, trailing bytes, out-of-bound lengths and
 * counts, unknown enum values and flags, control characters, small buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "msg.h"
#include "record.h"

typedef int (*enc_fn)(const void *m, uint8_t *out, size_t cap, size_t *len);
typedef int (*dec_fn)(void *m, const uint8_t *in, size_t len);

/* Encodes m, checks the size query and the small-buffer error, and returns a malloc'd copy. */
static uint8_t *encode(enc_fn enc, const void *m, size_t *len) {
    size_t want = 0, n = 0;
    assert_int_equal(enc(m, NULL, 0, &want), 0);
    uint8_t *buf = malloc(want + 1);
    assert_non_null(buf);
    assert_int_equal(enc(m, buf, want, &n), 0);
    assert_int_equal(n, want);
    if (want > 0)
        assert_int_equal(enc(m, buf, want - 1, &n), SZ_E_ARGUMENT);
    *len = want;
    return buf;
}

/* Every strict prefix fails to decode; one extra byte is trailing (or ignored if tail_ok). */
static void check_strict(dec_fn dec, void *scratch, const uint8_t *buf, size_t len, int tail_ok) {
    for (size_t i = 0; i < len; i++) {
        int rc = dec(scratch, buf, i);
        assert_true(rc < 0);
        assert_true(rc == SZ_E_TRUNCATED || rc == SZ_E_MALFORMED);
    }
    uint8_t *more = malloc(len + 1);
    assert_non_null(more);
    memcpy(more, buf, len);
    more[len] = 0x41;
    int rc = dec(scratch, more, len + 1);
    if (tail_ok)
        assert_int_equal(rc, 0);
    else
        assert_int_equal(rc, SZ_E_TRAILING);
    free(more);
}

/* Adapters with a generic signature for the helpers above. */
#define ADAPT(name, type)                                                                          \
    static int enc_##name(const void *m, uint8_t *o, size_t c, size_t *l) {                        \
        return sz_msg_##name##_encode((const type *)m, o, c, l);                                   \
    }                                                                                              \
    static int dec_##name(void *m, const uint8_t *in, size_t l) {                                  \
        return sz_msg_##name##_decode((type *)m, in, l);                                           \
    }
ADAPT(hello, sz_msg_hello_t)
ADAPT(hello_ok, sz_msg_hello_ok_t)
ADAPT(submitted, sz_msg_submitted_t)
ADAPT(get, sz_msg_get_t)
ADAPT(history, sz_msg_history_t)
ADAPT(record, sz_msg_record_t)
ADAPT(version, sz_msg_version_t)
ADAPT(end, sz_msg_end_t)
ADAPT(list, sz_msg_list_t)
ADAPT(search, sz_msg_search_t)

static sz_msg_list_entry_t g_entries[SZ_MSG_MAX_LIST];
static sz_msg_hit_t g_hits[SZ_MSG_MAX_HITS];
static sz_msg_peer_t g_peers[4];

static int enc_list_page(const void *m, uint8_t *o, size_t c, size_t *l) {
    return sz_msg_list_page_encode(m, o, c, l);
}
static int dec_list_page(void *m, const uint8_t *in, size_t l) {
    sz_msg_list_page_t *p = m;
    p->entries = g_entries;
    return sz_msg_list_page_decode(p, SZ_MSG_MAX_LIST, in, l);
}
static int enc_search_result(const void *m, uint8_t *o, size_t c, size_t *l) {
    return sz_msg_search_result_encode(m, o, c, l);
}
static int dec_search_result(void *m, const uint8_t *in, size_t l) {
    sz_msg_search_result_t *r = m;
    r->hits = g_hits;
    return sz_msg_search_result_decode(r, SZ_MSG_MAX_HITS, in, l);
}
static int enc_status_ok(const void *m, uint8_t *o, size_t c, size_t *l) {
    return sz_msg_status_ok_encode(m, o, c, l);
}
static int dec_status_ok(void *m, const uint8_t *in, size_t l) {
    sz_msg_status_ok_t *s = m;
    s->peers = g_peers;
    return sz_msg_status_ok_decode(s, 4, in, l);
}

static void test_hello(void **state) {
    (void)state;
    sz_msg_hello_t h = {.versions = {.count = 2, .versions = {1, 3}}, .role = SZ_ROLE_MIRROR};
    strcpy(h.software, "samizdat/0.1");
    size_t n;
    uint8_t *b = encode(enc_hello, &h, &n);
    assert_int_equal(n, 1 + 4 + 1 + 1 + 12);
    sz_msg_hello_t d;
    assert_int_equal(sz_msg_hello_decode(&d, b, n), 0);
    assert_int_equal(d.versions.count, 2);
    assert_int_equal(d.versions.versions[1], 3);
    assert_int_equal(d.role, SZ_ROLE_MIRROR);
    assert_string_equal(d.software, "samizdat/0.1");
    check_strict(dec_hello, &d, b, n, 1);
    /* The version list alone still parses with frame.h's decoder (forward compatibility). */
    sz_hello_t vl;
    assert_int_equal(sz_hello_decode(&vl, b, n), 0);
    /* Bad role, control byte in the name, name length past the payload. */
    b[5] = 9;
    assert_int_equal(sz_msg_hello_decode(&d, b, n), SZ_E_MALFORMED);
    b[5] = SZ_ROLE_CLIENT;
    b[7] = '\n';
    assert_int_equal(sz_msg_hello_decode(&d, b, n), SZ_E_MALFORMED);
    b[7] = 's';
    b[6] = 200;
    assert_int_equal(sz_msg_hello_decode(&d, b, n), SZ_E_MALFORMED);
    b[6] = 13;
    assert_int_equal(sz_msg_hello_decode(&d, b, n), SZ_E_TRUNCATED);
    free(b);
    /* Encoder refuses bad values. */
    h.role = 0;
    assert_int_equal(sz_msg_hello_encode(&h, NULL, 0, &n), SZ_E_ARGUMENT);
    h.role = SZ_ROLE_CLIENT;
    h.versions.versions[1] = 1; /* not ascending */
    assert_true(sz_msg_hello_encode(&h, NULL, 0, &n) < 0);
}

static void test_hello_ok(void **state) {
    (void)state;
    sz_msg_hello_ok_t h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.max_message = SZ_MSG_MAX;
    h.max_inflight = 256;
    memset(h.node_key, 7, 32);
    strcpy(h.software, "samizdatd/0.1.0");
    size_t n;
    uint8_t *b = encode(enc_hello_ok, &h, &n);
    sz_msg_hello_ok_t d;
    assert_int_equal(sz_msg_hello_ok_decode(&d, b, n), 0);
    assert_memory_equal(&d, &h, sizeof d);
    check_strict(dec_hello_ok, &d, b, n, 1);
    b[n - 1] = 0;
    b[n - 2] = 0; /* max_inflight 0 */
    assert_int_equal(sz_msg_hello_ok_decode(&d, b, n), SZ_E_MALFORMED);
    free(b);
    h.max_message = SZ_MSG_MAX + 1;
    assert_int_equal(sz_msg_hello_ok_encode(&h, NULL, 0, &n), SZ_E_ARGUMENT);
}

static void test_error_make(void **state) {
    (void)state;
    char buf[SZ_ERROR_MAX_TEXT];
    sz_error_msg_t e;
    sz_msg_error_make(&e, SZ_E_DENIED, "line one\nline\x7f two", buf);
    assert_int_equal(e.code, SZ_E_DENIED);
    assert_int_equal(e.text_len, strlen("line one\nline\x7f two"));
    assert_memory_equal(e.text, "line one?line? two", e.text_len);
    uint8_t out[512];
    size_t n;
    assert_int_equal(sz_error_msg_encode(&e, out, sizeof out, &n), 0);
    /* Long text is cut on a UTF-8 boundary: 200 two-byte characters. */
    char longtext[401];
    for (int i = 0; i < 200; i++) {
        longtext[2 * i] = (char)0xC3;
        longtext[2 * i + 1] = (char)0xA9;
    }
    longtext[400] = '\0';
    sz_msg_error_make(&e, SZ_E_MALFORMED, longtext, buf);
    assert_int_equal(e.text_len, SZ_ERROR_MAX_TEXT);
    assert_int_equal((uint8_t)e.text[e.text_len - 1], 0xA9);
    assert_int_equal(sz_error_msg_encode(&e, out, sizeof out, &n), 0);
    /* UPGRADE and non-negative codes are not for this helper. */
    sz_msg_error_make(&e, 0, "x", buf);
    assert_int_equal(e.code, SZ_E_PROTOCOL);
    sz_msg_error_make(&e, SZ_E_UPGRADE, NULL, buf);
    assert_int_equal(e.code, SZ_E_PROTOCOL);
    assert_int_equal(e.text_len, 0);
}

static void test_submit(void **state) {
    (void)state;
    uint8_t env[100];
    memset(env, 1, sizeof env);
    sz_msg_submit_t s = {.envelope = env, .len = sizeof env}, d;
    size_t n;
    uint8_t out[200];
    assert_int_equal(sz_msg_submit_encode(&s, out, sizeof out, &n), 0);
    assert_int_equal(n, sizeof env);
    assert_int_equal(sz_msg_submit_decode(&d, out, n), 0);
    assert_ptr_equal(d.envelope, out);
    assert_int_equal(sz_msg_submit_decode(&d, out, 0), SZ_E_TRUNCATED);
    assert_int_equal(sz_msg_submit_decode(&d, out, SZ_RECORD_MAX_LEN + 1), SZ_E_TOO_LARGE);
    s.len = 0;
    assert_int_equal(sz_msg_submit_encode(&s, out, sizeof out, &n), SZ_E_ARGUMENT);
}

static void test_submitted(void **state) {
    (void)state;
    sz_msg_submitted_t s;
    memset(&s, 0, sizeof s);
    s.seq = 0x0102030405060708ull;
    s.flags = SZ_SUBMIT_CURRENT | SZ_SUBMIT_NEW_RECORD;
    memset(s.version_hash, 0xAB, 32);
    memset(s.record_id, 0xCD, 32);
    size_t n;
    uint8_t *b = encode(enc_submitted, &s, &n);
    assert_int_equal(n, SZ_MSG_SUBMITTED_LEN);
    sz_msg_submitted_t d;
    assert_int_equal(sz_msg_submitted_decode(&d, b, n), 0);
    assert_memory_equal(&d, &s, sizeof d);
    check_strict(dec_submitted, &d, b, n, 0);
    b[n - 1] = 0x10;
    assert_int_equal(sz_msg_submitted_decode(&d, b, n), SZ_E_MALFORMED);
    free(b);
    s.flags = 0x80;
    assert_int_equal(sz_msg_submitted_encode(&s, NULL, 0, &n), SZ_E_ARGUMENT);
}

static void test_get_history(void **state) {
    (void)state;
    sz_msg_get_t g;
    memset(&g, 0, sizeof g);
    strcpy(g.id, "abCD12");
    size_t n;
    uint8_t *b = encode(enc_get, &g, &n);
    assert_int_equal(n, 1 + 6 + 1);
    sz_msg_get_t d;
    assert_int_equal(sz_msg_get_decode(&d, b, n), 0);
    assert_string_equal(d.id, "abCD12");
    assert_string_equal(d.version, "");
    check_strict(dec_get, &d, b, n, 0);
    b[3] = 'g';
    assert_int_equal(sz_msg_get_decode(&d, b, n), SZ_E_MALFORMED);
    b[0] = 0; /* empty id */
    assert_int_equal(sz_msg_get_decode(&d, b, n), SZ_E_MALFORMED);
    free(b);
    memset(g.version, 'f', 64);
    b = encode(enc_get, &g, &n);
    assert_int_equal(sz_msg_get_decode(&d, b, n), 0);
    assert_int_equal(strlen(d.version), 64);
    free(b);
    uint8_t over[70] = {65};
    memset(over + 1, 'a', 65);
    assert_int_equal(sz_msg_get_decode(&d, over, 66), SZ_E_MALFORMED);
    g.id[0] = '\0';
    assert_int_equal(sz_msg_get_encode(&g, NULL, 0, &n), SZ_E_ARGUMENT);
    strcpy(g.id, "xyz");
    assert_int_equal(sz_msg_get_encode(&g, NULL, 0, &n), SZ_E_ARGUMENT);

    sz_msg_history_t h;
    memset(&h, 0, sizeof h);
    memset(h.id, '0', 64);
    b = encode(enc_history, &h, &n);
    sz_msg_history_t hd;
    assert_int_equal(sz_msg_history_decode(&hd, b, n), 0);
    assert_string_equal(hd.id, h.id);
    check_strict(dec_history, &hd, b, n, 0);
    free(b);
}

static void test_record_version_end(void **state) {
    (void)state;
    uint8_t heads[64], env[300];
    memset(heads, 3, sizeof heads);
    randombytes_buf(env, sizeof env);
    sz_msg_record_t r = {.generation = 4,
                         .first_created = 1700000000000ull,
                         .nversions = 9,
                         .nheads = 2,
                         .heads = heads,
                         .envelope = env,
                         .envelope_len = sizeof env};
    memset(r.record_id, 1, 32);
    memset(r.current, 2, 32);
    memset(r.version_hash, 5, 32);
    size_t n;
    uint8_t *b = encode(enc_record, &r, &n);
    sz_msg_record_t d;
    assert_int_equal(sz_msg_record_decode(&d, b, n), 0);
    assert_int_equal(d.nheads, 2);
    assert_memory_equal(d.heads, heads, 64);
    assert_int_equal(d.envelope_len, sizeof env);
    assert_memory_equal(d.envelope, env, sizeof env);
    assert_int_equal(d.generation, 4);
    assert_int_equal(d.first_created, 1700000000000ull);
    assert_int_equal(d.nversions, 9);
    check_strict(dec_record, &d, b, n, 0);
    /* nheads 0 and above the bound. */
    size_t off = 32 + 32 + 4 + 8 + 4;
    b[off] = 0;
    b[off + 1] = 0;
    assert_int_equal(sz_msg_record_decode(&d, b, n), SZ_E_MALFORMED);
    b[off] = 0x01;
    b[off + 1] = 0x01;
    assert_int_equal(sz_msg_record_decode(&d, b, n), SZ_E_MALFORMED);
    free(b);
    r.nheads = 0;
    assert_int_equal(sz_msg_record_encode(&r, NULL, 0, &n), SZ_E_ARGUMENT);

    sz_msg_version_t v = {.seq = 77, .generation = 2, .envelope = env, .envelope_len = 10};
    memset(v.version_hash, 9, 32);
    b = encode(enc_version, &v, &n);
    sz_msg_version_t vd;
    assert_int_equal(sz_msg_version_decode(&vd, b, n), 0);
    assert_int_equal(vd.seq, 77);
    assert_int_equal(vd.envelope_len, 10);
    check_strict(dec_version, &vd, b, n, 0);
    /* Envelope length 0 and above the record bound. */
    memset(b + 8 + 32 + 4, 0, 4);
    assert_int_equal(sz_msg_version_decode(&vd, b, n), SZ_E_MALFORMED);
    memset(b + 8 + 32 + 4, 0xFF, 4);
    assert_int_equal(sz_msg_version_decode(&vd, b, n), SZ_E_MALFORMED);
    free(b);

    sz_msg_end_t e = {.count = 5}, ed;
    b = encode(enc_end, &e, &n);
    assert_int_equal(n, 4);
    assert_int_equal(sz_msg_end_decode(&ed, b, n), 0);
    assert_int_equal(ed.count, 5);
    check_strict(dec_end, &ed, b, n, 0);
    free(b);
}

static void test_list(void **state) {
    (void)state;
    sz_msg_list_t l;
    memset(&l, 0, sizeof l);
    l.kind = SZ_KIND_CASE;
    l.order = SZ_LIST_NEWEST_FIRST;
    l.limit = 50;
    strcpy(l.cursor, "cursor-token");
    l.nfilters = 2;
    strcpy(l.filters[0].field, "country");
    strcpy(l.filters[0].value, "DE");
    strcpy(l.filters[1].field, "period");
    strcpy(l.filters[1].value, "1989/1990");
    size_t n;
    uint8_t *b = encode(enc_list, &l, &n);
    sz_msg_list_t d;
    assert_int_equal(sz_msg_list_decode(&d, b, n), 0);
    assert_memory_equal(&d, &l, sizeof d);
    check_strict(dec_list, &d, b, n, 0);
    uint8_t save = b[0];
    b[0] = 9; /* unknown kind */
    assert_int_equal(sz_msg_list_decode(&d, b, n), SZ_E_MALFORMED);
    b[0] = save;
    b[1] = 2; /* unknown order */
    assert_int_equal(sz_msg_list_decode(&d, b, n), SZ_E_MALFORMED);
    b[1] = 1;
    b[2] = 0x03;
    b[3] = 0xE9; /* limit 1001 */
    assert_int_equal(sz_msg_list_decode(&d, b, n), SZ_E_MALFORMED);
    b[2] = 0;
    b[3] = 0; /* limit 0 */
    assert_int_equal(sz_msg_list_decode(&d, b, n), SZ_E_MALFORMED);
    b[3] = 50;
    size_t nf = 4 + 1 + strlen(l.cursor);
    b[nf] = 9; /* too many filters */
    assert_int_equal(sz_msg_list_decode(&d, b, n), SZ_E_MALFORMED);
    b[nf] = 2;
    b[nf + 2] = 0x01; /* control byte in a field name */
    assert_int_equal(sz_msg_list_decode(&d, b, n), SZ_E_MALFORMED);
    free(b);
    l.nfilters = 9;
    assert_int_equal(sz_msg_list_encode(&l, NULL, 0, &n), SZ_E_ARGUMENT);
    l.nfilters = 1;
    l.filters[0].value[0] = '\0';
    assert_int_equal(sz_msg_list_encode(&l, NULL, 0, &n), SZ_E_ARGUMENT);
}

static void test_list_page(void **state) {
    (void)state;
    sz_msg_list_entry_t e[3];
    memset(e, 0, sizeof e);
    const char *titles[3] = {"A title", "", "Zeugenaussage \xc3\xbc"};
    for (int i = 0; i < 3; i++) {
        memset(e[i].record_id, i + 1, 32);
        memset(e[i].current, i + 10, 32);
        e[i].kind = SZ_KIND_TESTIMONY;
        e[i].created = 1000u * (unsigned)i;
        e[i].title = (const uint8_t *)titles[i];
        e[i].title_len = (uint16_t)strlen(titles[i]);
    }
    sz_msg_list_page_t p = {.count = 3, .entries = e};
    strcpy(p.next_cursor, "next");
    size_t n;
    uint8_t *b = encode(enc_list_page, &p, &n);
    sz_msg_list_page_t d;
    assert_int_equal(dec_list_page(&d, b, n), 0);
    assert_int_equal(d.count, 3);
    assert_string_equal(d.next_cursor, "next");
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(g_entries[i].record_id, e[i].record_id, 32);
        assert_int_equal(g_entries[i].created, e[i].created);
        assert_int_equal(g_entries[i].title_len, e[i].title_len);
        assert_memory_equal(g_entries[i].title, titles[i], e[i].title_len);
    }
    check_strict(dec_list_page, &d, b, n, 0);
    /* Too many for the caller's array. */
    sz_msg_list_entry_t two[2];
    d.entries = two;
    assert_int_equal(sz_msg_list_page_decode(&d, 2, b, n), SZ_E_TOO_LARGE);
    d.entries = NULL;
    assert_int_equal(sz_msg_list_page_decode(&d, 5, b, n), SZ_E_TOO_LARGE);
    b[2 + 32] = 0; /* kind 0 */
    assert_int_equal(dec_list_page(&d, b, n), SZ_E_MALFORMED);
    free(b);
    p.count = 0;
    b = encode(enc_list_page, &p, &n);
    assert_int_equal(n, 2 + 1 + 4);
    free(b);
    e[0].title_len = SZ_MSG_MAX_TITLE + 1;
    p.count = 1;
    assert_int_equal(sz_msg_list_page_encode(&p, NULL, 0, &n), SZ_E_ARGUMENT);
}

static void test_search(void **state) {
    (void)state;
    sz_msg_search_t s = {.limit = 20};
    strcpy(s.query, "river \"night crossing\"");
    size_t n;
    uint8_t *b = encode(enc_search, &s, &n);
    sz_msg_search_t d;
    assert_int_equal(sz_msg_search_decode(&d, b, n), 0);
    assert_string_equal(d.query, s.query);
    check_strict(dec_search, &d, b, n, 0);
    free(b);
    uint8_t big[4 + SZ_MSG_MAX_QUERY + 1];
    memset(big, 'a', sizeof big);
    big[0] = 0;
    big[1] = 1;
    big[2] = (SZ_MSG_MAX_QUERY + 1) >> 8;
    big[3] = (SZ_MSG_MAX_QUERY + 1) & 0xFF;
    assert_int_equal(sz_msg_search_decode(&d, big, sizeof big), SZ_E_MALFORMED);

    sz_msg_hit_t hits[2] = {{.score = 3.5}, {.score = -0.25}};
    memset(hits[0].record_id, 1, 32);
    memset(hits[1].record_id, 2, 32);
    sz_msg_search_result_t r = {.count = 2, .hits = hits};
    b = encode(enc_search_result, &r, &n);
    sz_msg_search_result_t rd;
    assert_int_equal(dec_search_result(&rd, b, n), 0);
    assert_int_equal(rd.count, 2);
    assert_true(g_hits[0].score == 3.5 && g_hits[1].score == -0.25);
    check_strict(dec_search_result, &rd, b, n, 0);
    memset(b + 2 + 32, 0xFF, 8); /* NaN */
    assert_int_equal(dec_search_result(&rd, b, n), SZ_E_MALFORMED);
    free(b);
    hits[0].score = INFINITY;
    assert_int_equal(sz_msg_search_result_encode(&r, NULL, 0, &n), SZ_E_ARGUMENT);
}

static void test_status(void **state) {
    (void)state;
    assert_int_equal(sz_msg_status_decode(NULL, 0), 0);
    uint8_t x = 0;
    assert_int_equal(sz_msg_status_decode(&x, 1), SZ_E_TRAILING);

    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    sz_msg_status_ok_t s = {.protocol_version = 1, .records = 5, .versions = 8, .fts_lag = 2};
    memcpy(s.node_key, pk, 32);
    strcpy(s.software, "samizdatd/0.1.0");
    s.tree_head.size = 8;
    memset(s.tree_head.root, 0x11, 32);
    s.tree_head.timestamp = 1700000000000ull;
    assert_int_equal(sz_tree_head_sign(&s.tree_head, sk), 0);
    sz_msg_peer_t peers[1] = {{.address = (const uint8_t *)"10.0.0.1:7433",
                               .address_len = 13,
                               .connected = 1,
                               .last_seen = 99,
                               .lag = 7,
                               .checkpoint = 12}};
    memset(peers[0].key, 4, 32);
    s.npeers = 1;
    s.peers = peers;
    size_t n;
    uint8_t *b = encode(enc_status_ok, &s, &n);
    sz_msg_status_ok_t d;
    assert_int_equal(dec_status_ok(&d, b, n), 0);
    assert_int_equal(d.records, 5);
    assert_int_equal(d.versions, 8);
    assert_int_equal(d.fts_lag, 2);
    assert_int_equal(d.npeers, 1);
    assert_int_equal(g_peers[0].address_len, 13);
    assert_int_equal(g_peers[0].last_seen, 99);
    assert_int_equal(g_peers[0].lag, 7);
    assert_int_equal(g_peers[0].checkpoint, 12);
    assert_int_equal(sz_tree_head_verify(&d.tree_head), 0);
    check_strict(dec_status_ok, &d, b, n, 0);
    assert_int_equal(d.nseal, 0);
    assert_int_equal(b[n - 1], 0); /* nseal closes the message */
    b[n - 50] = 2;                 /* connected must be 0 or 1 */
    assert_int_equal(dec_status_ok(&d, b, n), SZ_E_MALFORMED);
    free(b);
    s.npeers = 0;
    b = encode(enc_status_ok, &s, &n);
    d.peers = NULL;
    assert_int_equal(sz_msg_status_ok_decode(&d, 0, b, n), 0);
    free(b);
}

/* STATUS_OK's default recipients: round trip, strict bounds, no repeats either way. */
static void test_status_seal_to(void **state) {
    (void)state;
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    sz_msg_status_ok_t s = {.protocol_version = 1};
    memcpy(s.node_key, pk, 32);
    strcpy(s.software, "samizdatd/0.1.0");
    s.tree_head.size = 1;
    memset(s.tree_head.root, 0x22, 32);
    assert_int_equal(sz_tree_head_sign(&s.tree_head, sk), 0);
    s.nseal = 2;
    memset(s.seal_to[0], 0xA1, 32);
    memset(s.seal_to[1], 0xB2, 32);
    size_t n, n0;
    s.nseal = 0;
    assert_int_equal(sz_msg_status_ok_encode(&s, NULL, 0, &n0), 0);
    s.nseal = 2;
    uint8_t *b = encode(enc_status_ok, &s, &n);
    assert_int_equal(n, n0 + 64);
    sz_msg_status_ok_t d;
    assert_int_equal(dec_status_ok(&d, b, n), 0);
    assert_int_equal(d.nseal, 2);
    assert_memory_equal(d.seal_to[0], s.seal_to[0], 32);
    assert_memory_equal(d.seal_to[1], s.seal_to[1], 32);
    check_strict(dec_status_ok, &d, b, n, 0);

    /* A repeated key on the wire is malformed. */
    memset(b + n - 32, 0xA1, 32);
    assert_int_equal(dec_status_ok(&d, b, n), SZ_E_MALFORMED);
    /* A count above the bound is malformed, whatever follows. */
    b[n - 65] = SZ_MSG_MAX_SEAL_TO + 1;
    assert_int_equal(dec_status_ok(&d, b, n), SZ_E_MALFORMED);
    b[n - 65] = 3; /* claims a third key that is not there */
    memset(b + n - 32, 0xC3, 32);
    assert_int_equal(dec_status_ok(&d, b, n), SZ_E_TRUNCATED);
    b[n - 65] = 1; /* claims one key, a second one trails */
    assert_int_equal(dec_status_ok(&d, b, n), SZ_E_TRAILING);
    free(b);

    /* Sixteen distinct keys is the most. */
    s.nseal = SZ_MSG_MAX_SEAL_TO;
    for (unsigned i = 0; i < SZ_MSG_MAX_SEAL_TO; i++)
        memset(s.seal_to[i], (int)(i + 1), 32);
    b = encode(enc_status_ok, &s, &n);
    assert_int_equal(dec_status_ok(&d, b, n), 0);
    assert_int_equal(d.nseal, SZ_MSG_MAX_SEAL_TO);
    assert_memory_equal(d.seal_to[15], s.seal_to[15], 32);
    free(b);

    /* The encoder refuses what the decoder would. */
    uint8_t buf[512];
    s.nseal = SZ_MSG_MAX_SEAL_TO + 1;
    assert_int_equal(sz_msg_status_ok_encode(&s, buf, sizeof buf, &n), SZ_E_ARGUMENT);
    s.nseal = 3;
    memcpy(s.seal_to[2], s.seal_to[0], 32);
    assert_int_equal(sz_msg_status_ok_encode(&s, buf, sizeof buf, &n), SZ_E_ARGUMENT);
}

static void test_type_names(void **state) {
    (void)state;
    assert_string_equal(sz_msg_type_name(SZ_MSG_SUBMIT), "SUBMIT");
    assert_string_equal(sz_msg_type_name(SZ_MSG_STATUS_OK), "STATUS_OK");
    assert_string_equal(sz_msg_type_name(SZ_MSG_HELLO), "HELLO");
    assert_string_equal(sz_msg_type_name(20), "PEERS");
    assert_string_equal(sz_msg_type_name(31), "AUDIT_PROOF");
    assert_string_equal(sz_msg_type_name(32), "UNKNOWN");
    assert_string_equal(sz_msg_type_name(0), "UNKNOWN");
    assert_string_equal(sz_msg_type_name(200), "UNKNOWN");
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_hello_ok),
        cmocka_unit_test(test_error_make),
        cmocka_unit_test(test_submit),
        cmocka_unit_test(test_submitted),
        cmocka_unit_test(test_get_history),
        cmocka_unit_test(test_record_version_end),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_list_page),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_status_seal_to),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
