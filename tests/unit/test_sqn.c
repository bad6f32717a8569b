/* SPDX-License-Identifier: Apache-2.0 */
#include "testlib.h"

#include <string.h>

#include "crypto/kms_sqn.h"

#define IND_BITS 5
#define A        (1u << IND_BITS)

static uint64_t sqn_of(uint64_t seq, unsigned ind)
{
    return (seq << IND_BITS) | ind;
}

static void bytes_round_trip(void **state)
{
    (void)state;
    uint8_t b[6];
    kms_sqn_to_bytes(0xff9bb4d0b607ULL, b);
    const uint8_t want[6] = {0xff, 0x9b, 0xb4, 0xd0, 0xb6, 0x07};
    expect_bytes_eq(b, want, 6);
    assert_int_equal(kms_sqn_from_bytes(b), 0xff9bb4d0b607ULL);
}

static void usim_accepts_fresh_and_refuses_stale(void **state)
{
    (void)state;
    struct kms_sqn_ms ms;
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 0));
    /* SEQ 0 is never fresh: the array starts at zero */
    expect_err(kms_sqn_ms_accept(&ms, sqn_of(0, 3)), KMS_ERR_SQN_STALE);
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(5, 3)));
    /* replay, and anything not above SEQ_MS(3) in slot 3 */
    expect_err(kms_sqn_ms_accept(&ms, sqn_of(5, 3)), KMS_ERR_SQN_STALE);
    expect_err(kms_sqn_ms_accept(&ms, sqn_of(4, 3)), KMS_ERR_SQN_STALE);
    /* another IND has its own slot: a lower SEQ there is still fresh (out-of-order use) */
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(2, 7)));
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(6, 3)));
    assert_int_equal(kms_sqn_ms_highest(&ms), sqn_of(6, 3));
    /* check does not change the array */
    expect_ok(kms_sqn_ms_check(&ms, sqn_of(7, 3)));
    expect_ok(kms_sqn_ms_check(&ms, sqn_of(7, 3)));
    expect_err(kms_sqn_ms_check(&ms, KMS_SQN_MAX + 1), KMS_ERR_ARG);
}

static void usim_enforces_delta(void **state)
{
    (void)state;
    struct kms_sqn_ms ms;
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, 1000, 0));
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(100, 0)));
    /* SEQ - SEQ_MS <= delta is accepted, delta + 1 is not (on any IND) */
    expect_err(kms_sqn_ms_check(&ms, sqn_of(1101, 1)), KMS_ERR_SQN_DELTA);
    expect_err(kms_sqn_ms_check(&ms, sqn_of(1101, 0)), KMS_ERR_SQN_DELTA);
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(1100, 1)));
    /* SEQ_MS is now 1100 (the highest anywhere) */
    expect_ok(kms_sqn_ms_check(&ms, sqn_of(2100, 0)));
    expect_err(kms_sqn_ms_check(&ms, sqn_of(2101, 0)), KMS_ERR_SQN_DELTA);
    /* the initial array: a fresh USIM refuses a first SQN beyond delta */
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, 1000, 0));
    expect_err(kms_sqn_ms_check(&ms, sqn_of(1001, 0)), KMS_ERR_SQN_DELTA);
    expect_ok(kms_sqn_ms_check(&ms, sqn_of(1000, 0)));
}

static void usim_enforces_age_limit(void **state)
{
    (void)state;
    struct kms_sqn_ms ms;
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 10));
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(100, 0)));
    /* SEQ_MS - SEQ < L: 91 is 9 behind (accepted in a fresh slot), 90 is 10 behind */
    expect_ok(kms_sqn_ms_check(&ms, sqn_of(91, 1)));
    expect_err(kms_sqn_ms_check(&ms, sqn_of(90, 1)), KMS_ERR_SQN_AGE);
    expect_err(kms_sqn_ms_check(&ms, sqn_of(1, 2)), KMS_ERR_SQN_AGE);
    /* without L the old SQN is fresh in its own slot */
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 0));
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(100, 0)));
    expect_ok(kms_sqn_ms_check(&ms, sqn_of(1, 2)));
}

/* IND cycles through every slot and wraps to 0; each value is fresh once, in order or not. */
static void usim_wraps_ind(void **state)
{
    (void)state;
    struct kms_sqn_ms ms;
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 0));
    uint64_t seq = 1;
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned ind = 0; ind < A; ind++) {
            expect_ok(kms_sqn_ms_accept(&ms, sqn_of(seq++, ind)));
        }
    }
    /* after the wrap, slot 0 holds the SEQ of the third round; the second round's is stale */
    expect_err(kms_sqn_ms_check(&ms, sqn_of(1 + A, 0)), KMS_ERR_SQN_STALE);
    expect_ok(kms_sqn_ms_check(&ms, sqn_of(seq, 0)));
    assert_int_equal(kms_sqn_ms_highest(&ms), sqn_of(seq - 1, A - 1));
    /* out of order within a round: vectors used in reverse IND order are all accepted */
    for (unsigned ind = A; ind-- > 0;) {
        expect_ok(kms_sqn_ms_accept(&ms, sqn_of(seq + ind, ind)));
    }
}

static void ind_bits_are_configurable(void **state)
{
    (void)state;
    struct kms_sqn_ms ms;
    expect_ok(kms_sqn_ms_init(&ms, 0, KMS_SQN_DELTA_DEF, 0)); /* a single slot */
    expect_ok(kms_sqn_ms_accept(&ms, 1));
    expect_ok(kms_sqn_ms_accept(&ms, 2));
    expect_err(kms_sqn_ms_accept(&ms, 2), KMS_ERR_SQN_STALE);
    expect_ok(kms_sqn_ms_init(&ms, KMS_SQN_IND_BITS_MAX, KMS_SQN_DELTA_DEF, 0));
    expect_ok(kms_sqn_ms_accept(&ms, (1ULL << KMS_SQN_IND_BITS_MAX) | 255));
    expect_err(kms_sqn_ms_init(&ms, KMS_SQN_IND_BITS_MAX + 1, KMS_SQN_DELTA_DEF, 0), KMS_ERR_ARG);
    expect_err(kms_sqn_ms_init(&ms, 5, 0, 0), KMS_ERR_ARG);
}

/* Network side: nothing is handed out before a durable reservation; a reservation of N covers
 * exactly N vectors; a restart from the durable mark never repeats an SQN. */
static void network_reserves_ranges(void **state)
{
    (void)state;
    struct kms_sqn_he he;
    uint64_t sqn, mark, last = 0;
    expect_ok(kms_sqn_he_init(&he, IND_BITS, KMS_SQN_DELTA_DEF, sqn_of(41, 3)));
    assert_true(kms_sqn_he_needs_reserve(&he));
    expect_err(kms_sqn_he_next(&he, 0, &sqn), KMS_ERR_SQN_RESERVE);
    expect_ok(kms_sqn_he_reserve(&he, 100, &mark));
    assert_int_equal(mark, sqn_of(141, A - 1));
    expect_ok(kms_sqn_he_reserved(&he, mark));
    for (unsigned i = 0; i < 100; i++) {
        expect_ok(kms_sqn_he_next(&he, i % A, &sqn));
        assert_true(sqn > last);
        assert_true(sqn <= mark);
        assert_int_equal(sqn & (A - 1), i % A);
        last = sqn;
    }
    assert_int_equal(last >> IND_BITS, 141);
    assert_true(kms_sqn_he_needs_reserve(&he));
    expect_err(kms_sqn_he_next(&he, 0, &sqn), KMS_ERR_SQN_RESERVE);
    expect_err(kms_sqn_he_next(&he, A, &sqn), KMS_ERR_ARG);
    expect_err(kms_sqn_he_reserve(&he, 0, &mark), KMS_ERR_ARG);

    /* crash after handing out 10 of a new range: restart from the durable mark */
    expect_ok(kms_sqn_he_reserve(&he, 50, &mark));
    expect_ok(kms_sqn_he_reserved(&he, mark));
    for (int i = 0; i < 10; i++) {
        expect_ok(kms_sqn_he_next(&he, 0, &last));
    }
    struct kms_sqn_he after;
    expect_ok(kms_sqn_he_init(&after, IND_BITS, KMS_SQN_DELTA_DEF, mark));
    expect_ok(kms_sqn_he_reserve(&after, 50, &mark));
    expect_ok(kms_sqn_he_reserved(&after, mark));
    expect_ok(kms_sqn_he_next(&after, 0, &sqn));
    assert_true(sqn > last);
    /* a mark below what was handed out is refused */
    expect_err(kms_sqn_he_reserved(&after, 0), KMS_ERR_ARG);
}

/* What the network hands out, the USIM accepts, also when used out of order across INDs. */
static void network_vectors_pass_the_usim(void **state)
{
    (void)state;
    struct kms_sqn_he he;
    struct kms_sqn_ms ms;
    uint64_t mark, sqns[8];
    expect_ok(kms_sqn_he_init(&he, IND_BITS, KMS_SQN_DELTA_DEF, 0));
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 0));
    expect_ok(kms_sqn_he_reserve(&he, 1000, &mark));
    expect_ok(kms_sqn_he_reserved(&he, mark));
    for (int round = 0; round < 20; round++) {
        for (unsigned i = 0; i < 8; i++) {
            expect_ok(kms_sqn_he_next(&he, i, &sqns[i]));
        }
        for (unsigned i = 8; i-- > 0;) {
            expect_ok(kms_sqn_ms_accept(&ms, sqns[i]));
        }
    }
}

static void resync_moves_only_when_needed(void **state)
{
    (void)state;
    struct kms_sqn_he he;
    uint64_t mark, sqn;
    bool moved;
    /* the USIM is ahead of the network: SEQ_HE := SEQ_MS, and a new reservation is needed */
    expect_ok(kms_sqn_he_init(&he, IND_BITS, 100, sqn_of(10, 0)));
    expect_ok(kms_sqn_he_resync(&he, sqn_of(500, 4), &moved));
    assert_true(moved);
    assert_true(kms_sqn_he_needs_reserve(&he));
    expect_ok(kms_sqn_he_reserve(&he, 10, &mark));
    expect_ok(kms_sqn_he_reserved(&he, mark));
    expect_ok(kms_sqn_he_next(&he, 1, &sqn));
    assert_int_equal(sqn, sqn_of(501, 1));
    /* the network is ahead but within delta: kept (the challenge failed for another reason) */
    expect_ok(kms_sqn_he_resync(&he, sqn_of(450, 0), &moved));
    assert_false(moved);
    expect_ok(kms_sqn_he_next(&he, 1, &sqn));
    assert_int_equal(sqn, sqn_of(502, 1));
    /* the network is ahead by more than delta: the USIM would refuse, so move back */
    expect_ok(kms_sqn_he_resync(&he, sqn_of(2, 0), &moved));
    assert_true(moved);
    expect_ok(kms_sqn_he_reserve(&he, 10, &mark));
    expect_ok(kms_sqn_he_reserved(&he, mark));
    expect_ok(kms_sqn_he_next(&he, 0, &sqn));
    assert_int_equal(sqn, sqn_of(3, 0));
    /* equal SEQ: the next one is fresh, keep */
    expect_ok(kms_sqn_he_resync(&he, sqn_of(3, 0), &moved));
    assert_false(moved);
    expect_err(kms_sqn_he_resync(&he, KMS_SQN_MAX + 1, &moved), KMS_ERR_ARG);
}

static void network_stops_at_the_top(void **state)
{
    (void)state;
    struct kms_sqn_he he;
    uint64_t mark, sqn;
    uint64_t top = KMS_SQN_MAX >> IND_BITS;
    expect_ok(kms_sqn_he_init(&he, IND_BITS, KMS_SQN_DELTA_DEF, sqn_of(top - 2, 0)));
    expect_ok(kms_sqn_he_reserve(&he, 100, &mark));
    assert_int_equal(mark, KMS_SQN_MAX);
    expect_ok(kms_sqn_he_reserved(&he, mark));
    expect_ok(kms_sqn_he_next(&he, 0, &sqn));
    expect_ok(kms_sqn_he_next(&he, 0, &sqn));
    assert_int_equal(sqn >> IND_BITS, top);
    expect_err(kms_sqn_he_next(&he, 0, &sqn), KMS_ERR_SQN_EXHAUSTED);
    expect_err(kms_sqn_he_reserve(&he, 1, &mark), KMS_ERR_SQN_EXHAUSTED);
    expect_err(kms_sqn_he_init(&he, IND_BITS, KMS_SQN_DELTA_DEF, KMS_SQN_MAX + 1), KMS_ERR_ARG);
}

/* Annex C.1.2: IND values split into classes of KMS_SQN_IND_CLASS (4), one per BSF node. With
 * a = 32 (5 bits) that is 8 nodes: node 0 has 0..3, node 7 has 28..31, node 8 does not exist. */
static void ind_classes_split_the_space(void **state)
{
    (void)state;
    unsigned first = 9, count = 9;
    assert_int_equal(kms_sqn_ind_nodes(IND_BITS), 8);
    expect_ok(kms_sqn_ind_class(IND_BITS, 0, &first, &count));
    assert_int_equal(first, 0);
    assert_int_equal(count, 4);
    expect_ok(kms_sqn_ind_class(IND_BITS, 1, &first, &count));
    assert_int_equal(first, 4);
    expect_ok(kms_sqn_ind_class(IND_BITS, 7, &first, &count));
    assert_int_equal(first, 28);
    assert_int_equal(first + count - 1, A - 1);
    expect_err(kms_sqn_ind_class(IND_BITS, 8, &first, &count), KMS_ERR_ARG);
    assert_int_equal(first, 0);
    assert_int_equal(count, 0);
    assert_int_equal(kms_sqn_ind_nodes(1), 0); /* 2 IND values: no class fits */
    expect_err(kms_sqn_ind_class(1, 0, &first, &count), KMS_ERR_ARG);
    assert_int_equal(kms_sqn_ind_nodes(KMS_SQN_IND_BITS_MAX), 64);
    assert_int_equal(kms_sqn_ind_nodes(KMS_SQN_IND_BITS_MAX + 1), 0);
}

/* Two generators (two BSF nodes) that start from the same durable mark and count SEQ on their
 * own: on disjoint IND classes the USIM accepts every vector, alternating (C.2.2: freshness is
 * per IND slot); on the same IND values the second node's first vector is stale. */
static void nodes_on_disjoint_classes(void **state)
{
    (void)state;
    struct kms_sqn_ms ms;
    struct kms_sqn_he he[2];
    uint64_t mark = 0, sqn = 0;
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 0));
    for (unsigned n = 0; n < 2; n++) {
        expect_ok(kms_sqn_he_init(&he[n], IND_BITS, KMS_SQN_DELTA_DEF, sqn_of(7, A - 1)));
        expect_ok(kms_sqn_he_reserve(&he[n], 64, &mark));
        expect_ok(kms_sqn_he_reserved(&he[n], mark));
    }
    for (unsigned i = 0; i < 20; i++) {
        unsigned n = i % 2, first = 0, count = 0;
        expect_ok(kms_sqn_ind_class(IND_BITS, n, &first, &count));
        expect_ok(kms_sqn_he_next(&he[n], first + (i / 2) % count, &sqn));
        /* each node's SEQ: 8, 9, ... on its own (C.3: SEQ_HE + 1 per vector) */
        assert_int_equal(sqn, sqn_of(8 + i / 2, first + (i / 2) % count));
        expect_ok(kms_sqn_ms_accept(&ms, sqn));
    }
    /* the same IND values for both: node 1's SEQ 8 on IND 0 comes after node 0's SEQ 8 there */
    struct kms_sqn_he a, b;
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 0));
    expect_ok(kms_sqn_he_init(&a, IND_BITS, KMS_SQN_DELTA_DEF, sqn_of(7, A - 1)));
    expect_ok(kms_sqn_he_init(&b, IND_BITS, KMS_SQN_DELTA_DEF, sqn_of(7, A - 1)));
    expect_ok(kms_sqn_he_reserved(&a, sqn_of(100, A - 1)));
    expect_ok(kms_sqn_he_reserved(&b, sqn_of(100, A - 1)));
    expect_ok(kms_sqn_he_next(&a, 0, &sqn));
    expect_ok(kms_sqn_ms_accept(&ms, sqn));
    expect_ok(kms_sqn_he_next(&b, 0, &sqn));
    expect_err(kms_sqn_ms_accept(&ms, sqn), KMS_ERR_SQN_STALE);
}

/* One node's SEQ far behind another's. Without an age limit L the lagging node's vectors stay
 * fresh in its own slots (C.2.2 checks SEQ > SEQ_MS(IND) only). With L applied, a node lagging
 * L or more behind the highest accepted SEQ is refused (SQN_AGE); the AUTS then carries the
 * other node's SQN_MS and the resynchronisation moves the lagging node up to it (6.3.5), after
 * which its vectors pass again. A node running more than delta ahead is refused as well (C.2.1,
 * SQN_DELTA), by any USIM. */
static void nodes_lagging_and_leading(void **state)
{
    (void)state;
    struct kms_sqn_ms ms;
    struct kms_sqn_he lag;
    uint64_t sqn = 0;
    bool moved = false;
    /* node 1 (IND 4..7) has reached SEQ 5000; node 0 (IND 0..3) is at SEQ 10 */
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 0));
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(5000, 4)));
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(11, 0)));
    /* with L = 1000 the same vector is too old: 5000 - 11 >= 1000 */
    expect_ok(kms_sqn_ms_init(&ms, IND_BITS, KMS_SQN_DELTA_DEF, 1000));
    expect_ok(kms_sqn_ms_accept(&ms, sqn_of(5000, 4)));
    expect_ok(kms_sqn_he_init(&lag, IND_BITS, KMS_SQN_DELTA_DEF, sqn_of(10, A - 1)));
    expect_ok(kms_sqn_he_reserved(&lag, sqn_of(100, A - 1)));
    expect_ok(kms_sqn_he_next(&lag, 0, &sqn));
    assert_int_equal(sqn, sqn_of(11, 0));
    expect_err(kms_sqn_ms_accept(&ms, sqn), KMS_ERR_SQN_AGE);
    /* resynchronisation with SQN_MS = the highest accepted (node 1's) */
    assert_int_equal(kms_sqn_ms_highest(&ms), sqn_of(5000, 4));
    expect_ok(kms_sqn_he_resync(&lag, kms_sqn_ms_highest(&ms), &moved));
    assert_true(moved);
    expect_ok(kms_sqn_he_reserved(&lag, sqn_of(5100, A - 1)));
    expect_ok(kms_sqn_he_next(&lag, 1, &sqn));
    assert_int_equal(sqn, sqn_of(5001, 1));
    expect_ok(kms_sqn_ms_accept(&ms, sqn));
    /* a node more than delta ahead of the highest accepted SEQ is refused */
    expect_err(kms_sqn_ms_check(&ms, sqn_of(5002 + KMS_SQN_DELTA_DEF, 8)), KMS_ERR_SQN_DELTA);
    expect_ok(kms_sqn_ms_check(&ms, sqn_of(5001 + KMS_SQN_DELTA_DEF, 8)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bytes_round_trip),
        cmocka_unit_test(usim_accepts_fresh_and_refuses_stale),
        cmocka_unit_test(usim_enforces_delta),
        cmocka_unit_test(usim_enforces_age_limit),
        cmocka_unit_test(usim_wraps_ind),
        cmocka_unit_test(ind_bits_are_configurable),
        cmocka_unit_test(network_reserves_ranges),
        cmocka_unit_test(network_vectors_pass_the_usim),
        cmocka_unit_test(resync_moves_only_when_needed),
        cmocka_unit_test(network_stops_at_the_top),
        cmocka_unit_test(ind_classes_split_the_space),
        cmocka_unit_test(nodes_on_disjoint_classes),
        cmocka_unit_test(nodes_lagging_and_leading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
