/* test_ccdefer.c: unit tests for common/ccdefer.c (deferred client-connect answers). */
#include "ovpbuild.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ccdefer.h"
#include "ccfg.h"
#include "defer.h"
#include "fakehost.h"
#include "log.h"

static struct ovp_log *tlog;
static struct ovp_client_id who = {"[alice@192.0.2.7:41000]"};

static int
setup(void **state)
{
    (void)state;
    fakehost_reset();
    tlog = ovp_log_new("ovp-test", fakehost_vlog, 4, 1024);
    return tlog ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    ovp_log_drain(tlog);
    ovp_log_free(tlog);
    tlog = NULL;
    return 0;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
    {
    }
}

/* A backend's work: waits DELAY_MS, answers, drops its reference. */
struct work
{
    struct ovp_ccdefer *d;
    unsigned delay_ms;
    int verdict;
    const char *lines;
    const char *reason;
};

static void *
work_run(void *arg)
{
    struct work *w = arg;
    sleep_ms(w->delay_ms);
    ovp_ccdefer_finish(w->d, w->verdict, w->lines, w->reason);
    ovp_ccdefer_unref(w->d);
    return NULL;
}

static pthread_t
start_work(struct work *w)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, work_run, w), 0);
    return t;
}

static void
poll__pending_is_deferred_then_success_with_config(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    struct openvpn_plugin_string_list *list = NULL;
    assert_non_null(d);

    struct work w = {
        ovp_ccdefer_ref(d), 100, OVP_ALLOW,
        "push \"route 10.1.0.0 255.255.0.0\"\nifconfig-push 10.8.0.9 255.255.255.0\n", NULL};
    pthread_t t = start_work(&w);
    /* Before the backend answers: DEFERRED at once, no list. */
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_DEFERRED);
    assert_null(list);
    assert_int_equal(ovp_ccdefer_answered(d), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(ovp_ccdefer_answered(d), 1);

    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_non_null(list);
    assert_string_equal(list->name, "config");
    assert_string_equal(list->value, "push \"route 10.1.0.0 255.255.0.0\"\n"
                                     "ifconfig-push 10.8.0.9 255.255.255.0\n");
    assert_null(list->next);
    ovp_string_list_free(list);
    assert_true(
        fakehost_find("[alice@192.0.2.7:41000] client-connect allowed (2 config lines)") >= 0);
    ovp_ccdefer_unref(d);
}

static void
poll__answer_before_first_poll_is_given_at_once(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    struct openvpn_plugin_string_list *list = NULL;
    struct work w = {ovp_ccdefer_ref(d), 0, OVP_ALLOW, "iroute 10.9.0.0 255.255.255.0", NULL};
    pthread_t t = start_work(&w);
    assert_int_equal(pthread_join(t, NULL), 0);

    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_string_equal(list->value, "iroute 10.9.0.0 255.255.255.0\n");
    ovp_string_list_free(list);
    ovp_ccdefer_unref(d);
}

static void
poll__decided_answer_is_given_again_but_logged_once(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    struct openvpn_plugin_string_list *l1 = NULL, *l2 = NULL;
    ovp_ccdefer_finish(d, OVP_ALLOW, "push \"ping 10\"", NULL);

    /* The host frees lists of a round another plugin kept deferred: each poll gives a fresh one. */
    assert_int_equal(ovp_ccdefer_poll(d, &l1, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(ovp_ccdefer_poll(d, &l2, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_non_null(l1);
    assert_non_null(l2);
    assert_ptr_not_equal(l1, l2);
    assert_ptr_not_equal(l1->value, l2->value);
    assert_string_equal(l2->value, "push \"ping 10\"\n");
    ovp_string_list_free(l1);
    ovp_string_list_free(l2);
    assert_int_equal(fakehost_count(), 1);
    ovp_ccdefer_unref(d);
}

static void
poll__allow_without_lines_is_success_with_no_list(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    struct openvpn_plugin_string_list *list = (void *)&list; /* must be overwritten */
    ovp_ccdefer_finish(d, OVP_ALLOW, "\n\n", NULL);
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_null(list);
    /* A NULL return_list is accepted too. */
    assert_int_equal(ovp_ccdefer_poll(d, NULL, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    ovp_ccdefer_unref(d);

    d = ovp_ccdefer_new(5000);
    ovp_ccdefer_finish(d, OVP_ALLOW, NULL, NULL);
    list = NULL;
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_null(list);
    ovp_ccdefer_unref(d);
}

static void
poll__deny_and_temp_are_error_with_reason(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    struct openvpn_plugin_string_list *list = NULL;
    ovp_ccdefer_finish(d, OVP_DENY, "push \"route 10.0.0.0 255.0.0.0\"", "account disabled");
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(list); /* a refusal never hands config over */
    assert_true(
        fakehost_find("[alice@192.0.2.7:41000] client-connect refused: account disabled") >= 0);
    ovp_ccdefer_unref(d);

    d = ovp_ccdefer_new(5000);
    ovp_ccdefer_finish(d, OVP_TEMP, NULL, "directory unreachable");
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(list);
    assert_true(fakehost_find("[alice@192.0.2.7:41000] client-connect failed (backend "
                              "unavailable): directory unreachable") >= 0);
    assert_int_equal(fakehost_count(), 2); /* each outcome said once */
    ovp_ccdefer_unref(d);

    /* An unknown verdict fails closed. */
    d = ovp_ccdefer_new(5000);
    ovp_ccdefer_finish(d, 42, "push \"ping 10\"", NULL);
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(list);
    assert_true(fakehost_find("failed (backend unavailable): no reason given") >= 0);
    ovp_ccdefer_unref(d);
}

static void
poll__deadline_is_error_and_late_finish_is_ignored(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(50);
    struct openvpn_plugin_string_list *list = NULL;
    struct work w = {ovp_ccdefer_ref(d), 300, OVP_ALLOW, "push \"ping 10\"", NULL};
    pthread_t t = start_work(&w);

    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_DEFERRED);
    sleep_ms(80);
    assert_int_equal(ovp_ccdefer_answered(d), 1); /* the backend can tell it may stop */
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_true(fakehost_find("[alice@192.0.2.7:41000] client-connect timed out after 50 ms") >=
                0);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* The late allow changes nothing. */
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(list);
    assert_int_equal(fakehost_count(), 1);
    ovp_ccdefer_unref(d);
}

static void
poll__zero_deadline_means_the_default(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(0);
    assert_int_equal(ovp_ccdefer_poll(d, NULL, tlog, &who), OPENVPN_PLUGIN_FUNC_DEFERRED);
    assert_int_equal(ovp_ccdefer_answered(d), 0);
    ovp_ccdefer_unref(d);
}

static void
finish__bad_line_fails_closed_and_names_it(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "push \"route 10.1.0.0 255.255.0.0\"\r\niroute 0.0.0.0 0.0.0.0",
        "push \"ping 10\"\npush \"dhcp-option DOMAIN a\tb\"",
        "push \"ping 10\"\n\nifconfig-push 10.8.0.9\x01 255.255.255.0",
    };
    static const char *const said[] = {"line 1", "line 2", "line 3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
        struct openvpn_plugin_string_list *list = NULL;
        char want[128];
        fakehost_reset();
        ovp_ccdefer_finish(d, OVP_ALLOW, bad[i], NULL);
        assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
        assert_null(list);
        snprintf(want, sizeof(want), "client-connect refused: client config %s from", said[i]);
        assert_true(fakehost_find(want) >= 0);
        ovp_ccdefer_unref(d);
    }

    /* Over the whole bound. */
    size_t n = OVP_CCFG_MAX + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    memcpy(big, "push \"", 6);
    big[n] = '\0';
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    ovp_ccdefer_finish(d, OVP_ALLOW, big, NULL);
    free(big);
    assert_int_equal(ovp_ccdefer_poll(d, NULL, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
    ovp_ccdefer_unref(d);
}

static void
finish__first_answer_wins(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    struct openvpn_plugin_string_list *list = NULL;
    ovp_ccdefer_finish(d, OVP_DENY, NULL, "first");
    ovp_ccdefer_finish(d, OVP_ALLOW, "push \"ping 10\"", "second");
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(list);
    assert_true(fakehost_find("client-connect refused: first") >= 0);
    ovp_ccdefer_unref(d);

    d = ovp_ccdefer_new(5000);
    ovp_ccdefer_finish(d, OVP_ALLOW, "push \"ping 10\"", NULL);
    ovp_ccdefer_finish(d, OVP_DENY, NULL, "too late");
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_string_equal(list->value, "push \"ping 10\"\n");
    ovp_string_list_free(list);
    ovp_ccdefer_unref(d);
}

/* Several threads race to answer: exactly one answer is kept, and it is consistent. */
static void
finish__racing_threads_keep_one_answer(void **state)
{
    (void)state;
    for (int round = 0; round < 50; round++)
    {
        struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
        struct work w[4];
        pthread_t t[4];
        struct openvpn_plugin_string_list *list = NULL;
        for (int i = 0; i < 4; i++)
        {
            w[i] = (struct work){ovp_ccdefer_ref(d), 0, i % 2 ? OVP_DENY : OVP_ALLOW,
                                 i % 2 ? NULL : "push \"ping 10\"", "raced"};
            t[i] = start_work(&w[i]);
        }
        ovp_ccdefer_poll(d, &list, tlog, &who);
        for (int i = 0; i < 4; i++)
        {
            assert_int_equal(pthread_join(t[i], NULL), 0);
        }
        ovp_string_list_free(list);
        list = NULL;
        int rc = ovp_ccdefer_poll(d, &list, tlog, &who);
        assert_true(rc == OPENVPN_PLUGIN_FUNC_SUCCESS || rc == OPENVPN_PLUGIN_FUNC_ERROR);
        if (rc == OPENVPN_PLUGIN_FUNC_SUCCESS)
        {
            assert_string_equal(list->value, "push \"ping 10\"\n");
        }
        else
        {
            assert_null(list);
        }
        ovp_string_list_free(list);
        ovp_ccdefer_unref(d);
    }
}

/* The client goes away (OpenVPN frees the per-client context) before the backend answers. */
static void
unref__client_gone_before_backend_answers(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    struct work w = {ovp_ccdefer_ref(d), 100, OVP_ALLOW, "push \"ping 10\"", NULL};
    pthread_t t = start_work(&w);
    assert_int_equal(ovp_ccdefer_poll(d, NULL, tlog, &who), OPENVPN_PLUGIN_FUNC_DEFERRED);
    ovp_ccdefer_unref(d); /* the client destructor */
    /* The backend still finishes and unrefs: ASan would report a use after free or a leak. */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(fakehost_count(), 0);
}

/* The backend gives up its reference first; the client's reference still reads the answer. */
static void
unref__backend_done_before_client_polls(void **state)
{
    (void)state;
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    struct openvpn_plugin_string_list *list = NULL;
    struct work w = {ovp_ccdefer_ref(d), 0, OVP_ALLOW, "push \"ping 10\"", NULL};
    pthread_t t = start_work(&w);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(ovp_ccdefer_poll(d, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    ovp_string_list_free(list);
    ovp_ccdefer_unref(d);
}

static void
null__is_safe_and_means_nothing_pending(void **state)
{
    (void)state;
    struct openvpn_plugin_string_list *list = (void *)&list;
    assert_int_equal(ovp_ccdefer_poll(NULL, &list, tlog, &who), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_null(list);
    assert_int_equal(ovp_ccdefer_answered(NULL), 1);
    assert_null(ovp_ccdefer_ref(NULL));
    ovp_ccdefer_unref(NULL);
    ovp_ccdefer_finish(NULL, OVP_ALLOW, "push \"ping 10\"", NULL);
    /* No log and no client: still answers. */
    struct ovp_ccdefer *d = ovp_ccdefer_new(5000);
    ovp_ccdefer_finish(d, OVP_DENY, NULL, NULL);
    assert_int_equal(ovp_ccdefer_poll(d, NULL, NULL, NULL), OPENVPN_PLUGIN_FUNC_ERROR);
    ovp_ccdefer_unref(d);
}

static void
events__mask_names_both_client_connect_events(void **state)
{
    (void)state;
    assert_true(OVP_CCDEFER_EVENTS & OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2));
    assert_true(OVP_CCDEFER_EVENTS &
                OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2));
    assert_int_equal(OPENVPN_PLUGIN_CLIENT_CONNECT_DEFER_V2, 14);
    assert_int_equal(OVP_CCDEFER_EVENTS, (1u << 9) | (1u << 14));
}

/* Many clients at once, each with its own backend thread finishing at random times. */
static void
stress__many_clients_poll_while_backends_finish(void **state)
{
    (void)state;
    enum
    {
        N = 64
    };
    struct ovp_ccdefer *d[N];
    struct work w[N];
    pthread_t t[N];
    int done[N] = {0};
    int left = N;

    for (int i = 0; i < N; i++)
    {
        d[i] = ovp_ccdefer_new(5000);
        assert_non_null(d[i]);
        w[i] = (struct work){ovp_ccdefer_ref(d[i]), (unsigned)(i % 7) * 3,
                             i % 3 ? OVP_ALLOW : OVP_DENY, "push \"ping 10\"", "no"};
        t[i] = start_work(&w[i]);
    }
    while (left > 0)
    {
        for (int i = 0; i < N; i++)
        {
            struct openvpn_plugin_string_list *list = NULL;
            int rc;
            if (done[i])
            {
                continue;
            }
            rc = ovp_ccdefer_poll(d[i], &list, tlog, &who);
            if (rc == OPENVPN_PLUGIN_FUNC_DEFERRED)
            {
                continue;
            }
            assert_int_equal(rc,
                             i % 3 ? OPENVPN_PLUGIN_FUNC_SUCCESS : OPENVPN_PLUGIN_FUNC_ERROR);
            ovp_string_list_free(list);
            if (i % 2)
            {
                ovp_ccdefer_unref(d[i]); /* some clients leave before their thread is joined */
                d[i] = NULL;
            }
            done[i] = 1;
            left--;
        }
        sleep_ms(1);
    }
    for (int i = 0; i < N; i++)
    {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        ovp_ccdefer_unref(d[i]);
    }
    assert_int_equal(fakehost_foreign_calls(), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(poll__pending_is_deferred_then_success_with_config,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(poll__answer_before_first_poll_is_given_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(poll__decided_answer_is_given_again_but_logged_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(poll__allow_without_lines_is_success_with_no_list,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(poll__deny_and_temp_are_error_with_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(poll__deadline_is_error_and_late_finish_is_ignored,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(poll__zero_deadline_means_the_default, setup, teardown),
        cmocka_unit_test_setup_teardown(finish__bad_line_fails_closed_and_names_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(finish__first_answer_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(finish__racing_threads_keep_one_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unref__client_gone_before_backend_answers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unref__backend_done_before_client_polls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(null__is_safe_and_means_nothing_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(events__mask_names_both_client_connect_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stress__many_clients_poll_while_backends_finish, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
