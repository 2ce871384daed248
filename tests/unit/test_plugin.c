/* test_plugin.c: unit tests for common/plugin.c, in process and through a real dlopen. */
#include "ovpbuild.h"

#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fakehost.h"
#include "plugin.h"

/* ---- an in-process plugin whose behaviour each test sets ---- */

static struct
{
    int open_rc;
    int event_rc;
    int opened, closed, aborted, events, clients_freed;
    int last_type;
    size_t last_argc, last_envc;
    int had_return_list;
    void *last_client;
    int worker_logs; /* lines a worker logs during the event */
    unsigned narrow; /* when set, open narrows the events to this */
    char who[192];
} t;

static int state_token;

static int
t_open(struct ovp_plugin *p, const char *const *argv, const char *const *envp, void **state)
{
    (void)argv;
    (void)envp;
    t.opened++;
    if (t.open_rc < 0)
    {
        ovp_err(ovp_plugin_log(p), "bad config: nope");
        return -1;
    }
    if (t.narrow)
    {
        ovp_plugin_set_events(p, t.narrow);
    }
    *state = &state_token;
    return 0;
}

static void *
t_worker(void *arg)
{
    struct ovp_plugin *p = arg;
    for (int i = 0; i < t.worker_logs; i++)
    {
        ovp_note(ovp_plugin_log(p), "from worker %d", i);
    }
    return NULL;
}

static int
t_event(struct ovp_plugin *p, void *state, const struct ovp_event *ev)
{
    assert_ptr_equal(state, &state_token);
    t.events++;
    t.last_type = ev->type;
    t.last_argc = 0;
    while (ev->argv[t.last_argc])
    {
        t.last_argc++;
    }
    t.last_envc = 0;
    while (ev->envp[t.last_envc])
    {
        t.last_envc++;
    }
    t.had_return_list = ev->return_list != NULL;
    t.last_client = ev->client;
    snprintf(t.who, sizeof(t.who), "%s", ev->who.text);
    if (t.worker_logs)
    {
        pthread_t th;
        pthread_create(&th, NULL, t_worker, p);
        pthread_join(th, NULL);
    }
    return t.event_rc;
}

static void
t_close(struct ovp_plugin *p, void *state)
{
    (void)state;
    t.closed++;
    ovp_note(ovp_plugin_log(p), "closing");
}

static void
t_abort(struct ovp_plugin *p, void *state)
{
    (void)p;
    (void)state;
    t.aborted++;
}

static int client_token;

static void *
t_client_new(struct ovp_plugin *p, void *state)
{
    (void)p;
    (void)state;
    return &client_token;
}

static void
t_client_free(struct ovp_plugin *p, void *state, void *client)
{
    (void)p;
    (void)state;
    assert_ptr_equal(client, &client_token);
    t.clients_freed++;
}

static const struct ovp_plugin_desc tdesc = {
    .name = "ovp-unit",
    .events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY) |
              OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2) |
              OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_LEARN_ADDRESS),
    .optional_events = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CRRESPONSE),
    .open = t_open,
    .event = t_event,
    .close = t_close,
    .abort = t_abort,
    .client_new = t_client_new,
    .client_free = t_client_free,
};
OVP_PLUGIN(tdesc);

static const char *open_argv[] = {"/plugins/ovp-unit.so", "key=value", NULL};
static const char *open_envp[] = {"verb=4", NULL};

static int
reset(void **state)
{
    (void)state;
    memset(&t, 0, sizeof(t));
    fakehost_reset();
    return 0;
}

/* Opens the in-process plugin as OpenVPN 2.6 would; returns the handle or NULL. */
static void *
open_with_mask(unsigned type_mask, int *rc_out, int *mask_out)
{
    struct openvpn_plugin_args_open_in in = {
        .type_mask = (int)type_mask,
        .argv = open_argv,
        .envp = open_envp,
        .callbacks = &fakehost_callbacks,
    };
    struct openvpn_plugin_args_open_return ret = {0};
    int rc = openvpn_plugin_open_v3(OPENVPN_PLUGINv3_STRUCTVER, &in, &ret);
    if (rc_out)
    {
        *rc_out = rc;
    }
    if (mask_out)
    {
        *mask_out = ret.type_mask;
    }
    return ret.handle;
}

static int
call(void *h, int type, const char **argv, const char **envp,
     struct openvpn_plugin_string_list **list, void *client)
{
    struct openvpn_plugin_args_func_in in = {
        .type = type,
        .argv = argv,
        .envp = envp,
        .handle = h,
        .per_client_context = client,
    };
    struct openvpn_plugin_args_func_return ret = {.return_list = list};
    return openvpn_plugin_func_v3(OPENVPN_PLUGINv3_STRUCTVER, &in, &ret);
}

static void
open__null_arguments_fail_closed(void **state)
{
    (void)state;
    struct openvpn_plugin_args_open_return ret = {0};
    assert_int_equal(openvpn_plugin_open_v3(5, NULL, &ret), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(ret.handle);
    struct openvpn_plugin_args_open_in in = {.type_mask = 0xffff};
    assert_int_equal(openvpn_plugin_open_v3(5, &in, NULL), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(t.opened, 0);
}

static void
open__old_struct_version_is_refused(void **state)
{
    (void)state;
    struct openvpn_plugin_args_open_in in = {.type_mask = 0xffff,
                                             .argv = open_argv,
                                             .envp = open_envp,
                                             .callbacks = &fakehost_callbacks};
    struct openvpn_plugin_args_open_return ret = {0};
    assert_int_equal(openvpn_plugin_open_v3(4, &in, &ret), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(ret.handle);
    assert_int_equal(t.opened, 0);
}

static void
open__host_without_a_needed_event_is_refused_by_name(void **state)
{
    (void)state;
    int rc;
    unsigned mask = 0xffff & ~OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CONNECT_V2);
    void *h = open_with_mask(mask, &rc, NULL);
    assert_int_equal(rc, OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(h);
    assert_int_equal(t.opened, 0);
    assert_true(fakehost_find("CLIENT_CONNECT_V2") >= 0);
}

static void
open__optional_event_taken_only_when_offered(void **state)
{
    (void)state;
    int rc, mask;
    void *h = open_with_mask(0xffff, &rc, &mask);
    assert_int_equal(rc, OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_true(mask & OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CRRESPONSE));
    openvpn_plugin_close_v1(h);

    /* 2.5 offers 0x7fff: no CLIENT_CRRESPONSE */
    h = open_with_mask(0x7fff, &rc, &mask);
    assert_int_equal(rc, OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_non_null(h);
    assert_false(mask & OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_CLIENT_CRRESPONSE));
    assert_true(mask & OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY));
    openvpn_plugin_close_v1(h);
}

static void
set_events__narrows_to_what_descriptor_and_host_allow(void **state)
{
    (void)state;
    int rc, mask;
    /* LEARN_ADDRESS dropped; UP was never in the descriptor, so it cannot be added */
    t.narrow = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY) |
               OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_UP);
    void *h = open_with_mask(0xffff, &rc, &mask);
    assert_int_equal(rc, OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(mask, OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY));
    assert_int_equal(call(h, OPENVPN_PLUGIN_LEARN_ADDRESS, NULL, NULL, NULL, NULL),
                     OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(call(h, OPENVPN_PLUGIN_UP, NULL, NULL, NULL, NULL),
                     OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(t.events, 0);
    openvpn_plugin_close_v1(h);
}

static void
open__plugin_refusal_gives_error_no_handle_and_a_reason(void **state)
{
    (void)state;
    t.open_rc = -1;
    int rc;
    void *h = open_with_mask(0xffff, &rc, NULL);
    assert_int_equal(rc, OPENVPN_PLUGIN_FUNC_ERROR);
    assert_null(h);
    assert_true(fakehost_find("bad config: nope") >= 0);
    assert_true(fakehost_find("not loaded") >= 0);
}

static void
func__null_input_or_handle_fails_closed(void **state)
{
    (void)state;
    assert_int_equal(openvpn_plugin_func_v3(5, NULL, NULL), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(call(NULL, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY, NULL, NULL, NULL, NULL),
                     OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(t.events, 0);
}

static void
func__unregistered_event_is_refused(void **state)
{
    (void)state;
    void *h = open_with_mask(0xffff, NULL, NULL);
    assert_int_equal(call(h, OPENVPN_PLUGIN_UP, NULL, NULL, NULL, NULL),
                     OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(call(h, 99, NULL, NULL, NULL, NULL), OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(t.events, 0);
    assert_true(fakehost_find("not registered") >= 0);
    openvpn_plugin_close_v1(h);
}

static void
func__deferred_where_it_cannot_be_becomes_error(void **state)
{
    (void)state;
    void *h = open_with_mask(0xffff, NULL, NULL);
    t.event_rc = OPENVPN_PLUGIN_FUNC_DEFERRED;
    assert_int_equal(call(h, OPENVPN_PLUGIN_LEARN_ADDRESS, NULL, NULL, NULL, NULL),
                     OPENVPN_PLUGIN_FUNC_ERROR);
    assert_int_equal(call(h, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY, NULL, NULL, NULL, NULL),
                     OPENVPN_PLUGIN_FUNC_DEFERRED);
    openvpn_plugin_close_v1(h);
}

static void
func__unknown_return_code_becomes_error(void **state)
{
    (void)state;
    void *h = open_with_mask(0xffff, NULL, NULL);
    t.event_rc = 7;
    assert_int_equal(call(h, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY, NULL, NULL, NULL, NULL),
                     OPENVPN_PLUGIN_FUNC_ERROR);
    assert_true(fakehost_find("returned 7") >= 0);
    openvpn_plugin_close_v1(h);
}

static void
func__null_argv_and_envp_arrive_as_empty_arrays(void **state)
{
    (void)state;
    void *h = open_with_mask(0xffff, NULL, NULL);
    assert_int_equal(call(h, OPENVPN_PLUGIN_LEARN_ADDRESS, NULL, NULL, NULL, NULL),
                     OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_int_equal(t.events, 1);
    assert_int_equal(t.last_argc, 0);
    assert_int_equal(t.last_envc, 0);
    assert_string_equal(t.who, "[?]");
    openvpn_plugin_close_v1(h);
}

static void
func__client_context_and_who_are_passed(void **state)
{
    (void)state;
    void *h = open_with_mask(0xffff, NULL, NULL);
    void *c = openvpn_plugin_client_constructor_v1(h);
    assert_ptr_equal(c, &client_token);
    const char *envp[] = {"common_name=alice", "untrusted_ip=192.0.2.3", "untrusted_port=4000",
                          NULL};
    const char *argv[] = {"/x.so", NULL};
    call(h, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY, argv, envp, NULL, c);
    assert_ptr_equal(t.last_client, c);
    assert_string_equal(t.who, "[alice@192.0.2.3:4000]");
    assert_int_equal(t.last_argc, 1);
    openvpn_plugin_client_destructor_v1(h, c);
    assert_int_equal(t.clients_freed, 1);
    openvpn_plugin_client_destructor_v1(h, NULL); /* NULL context: nothing */
    assert_int_equal(t.clients_freed, 1);
    openvpn_plugin_close_v1(h);
}

static void
func__return_list_given_only_for_client_connect_v2(void **state)
{
    (void)state;
    void *h = open_with_mask(0xffff, NULL, NULL);
    struct openvpn_plugin_string_list *list = NULL;
    call(h, OPENVPN_PLUGIN_CLIENT_CONNECT_V2, NULL, NULL, &list, NULL);
    assert_true(t.had_return_list);
    call(h, OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY, NULL, NULL, &list, NULL);
    assert_false(t.had_return_list);
    openvpn_plugin_close_v1(h);
}

static void
func__worker_lines_reach_host_on_its_thread(void **state)
{
    (void)state;
    void *h = open_with_mask(0xffff, NULL, NULL);
    t.worker_logs = 2;
    call(h, OPENVPN_PLUGIN_LEARN_ADDRESS, NULL, NULL, NULL, NULL);
    t.worker_logs = 0;
    /* queued during the call; the next entry point drains them */
    call(h, OPENVPN_PLUGIN_LEARN_ADDRESS, NULL, NULL, NULL, NULL);
    assert_true(fakehost_find("from worker 1") >= 0);
    assert_int_equal(fakehost_foreign_calls(), 0);
    openvpn_plugin_close_v1(h);
}

static void
close_and_abort__reach_the_plugin(void **state)
{
    (void)state;
    void *h = open_with_mask(0xffff, NULL, NULL);
    openvpn_plugin_abort_v1(h);
    assert_int_equal(t.aborted, 1);
    openvpn_plugin_close_v1(h);
    assert_int_equal(t.closed, 1);
    assert_true(fakehost_find("closing") >= 0);
    openvpn_plugin_close_v1(NULL);
    openvpn_plugin_abort_v1(NULL);
    assert_null(openvpn_plugin_client_constructor_v1(NULL));
    assert_int_equal(openvpn_plugin_min_version_required_v1(), 3);
}

/* ---- the test plugin, a real .so, through dlopen RTLD_NOW ---- */

static const char *
test_plugin_path(void)
{
    const char *p = getenv("OVP_TEST_PLUGIN");
    return p ? p : "../plugin/.libs/ovp-test-plugin.so";
}

static void
dlopen__test_plugin_loads_now_and_shows_only_the_fence(void **state)
{
    (void)state;
    void *so = dlopen(test_plugin_path(), RTLD_NOW | RTLD_LOCAL);
    if (!so)
    {
        fail_msg("dlopen %s: %s", test_plugin_path(), dlerror());
    }
    static const char *const fence[] = {
        "openvpn_plugin_open_v3",
        "openvpn_plugin_func_v3",
        "openvpn_plugin_close_v1",
        "openvpn_plugin_abort_v1",
        "openvpn_plugin_min_version_required_v1",
        "openvpn_plugin_client_constructor_v1",
        "openvpn_plugin_client_destructor_v1",
    };
    for (size_t i = 0; i < sizeof(fence) / sizeof(fence[0]); i++)
    {
        assert_non_null(dlsym(so, fence[i]));
    }
    /* v1/v2 entry points must not exist: OpenVPN would prefer none of them, but a
     * stray one would mean the fence leaked. Internals must stay hidden. */
    assert_null(dlsym(so, "openvpn_plugin_open_v2"));
    assert_null(dlsym(so, "openvpn_plugin_func_v1"));
    assert_null(dlsym(so, "ovp_log_new"));
    assert_null(dlsym(so, "ovp_plugin_descriptor"));
    dlclose(so);
}

typedef int (*open_v3_fn)(int, struct openvpn_plugin_args_open_in const *,
                          struct openvpn_plugin_args_open_return *);
typedef int (*func_v3_fn)(int, struct openvpn_plugin_args_func_in const *,
                          struct openvpn_plugin_args_func_return *);
typedef void (*close_fn)(openvpn_plugin_handle_t);

static void
dlopen__test_plugin_authenticates_through_the_framework(void **state)
{
    (void)state;
    void *so = dlopen(test_plugin_path(), RTLD_NOW | RTLD_LOCAL);
    assert_non_null(so);
    open_v3_fn op = (open_v3_fn)dlsym(so, "openvpn_plugin_open_v3");
    func_v3_fn fn = (func_v3_fn)dlsym(so, "openvpn_plugin_func_v3");
    close_fn cl = (close_fn)dlsym(so, "openvpn_plugin_close_v1");

    const char *argv[] = {test_plugin_path(), "user=alice", "password=s3cret", "mode=sync",
                          NULL};
    struct openvpn_plugin_args_open_in in = {
        .type_mask = 0xffff, .argv = argv, .envp = open_envp, .callbacks = &fakehost_callbacks};
    struct openvpn_plugin_args_open_return ret = {0};
    assert_int_equal(op(OPENVPN_PLUGINv3_STRUCTVER, &in, &ret), OPENVPN_PLUGIN_FUNC_SUCCESS);
    assert_non_null(ret.handle);
    assert_true(ret.type_mask & OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY));

    const char *good[] = {"username=alice", "password=s3cret", "common_name=alice", NULL};
    const char *bad[] = {"username=alice", "password=wrong", "common_name=alice", NULL};
    const char *fargv[] = {test_plugin_path(), NULL};
    struct openvpn_plugin_args_func_in fin = {.type = OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY,
                                              .argv = fargv,
                                              .envp = good,
                                              .handle = ret.handle};
    struct openvpn_plugin_args_func_return fret = {0};
    assert_int_equal(fn(OPENVPN_PLUGINv3_STRUCTVER, &fin, &fret), OPENVPN_PLUGIN_FUNC_SUCCESS);
    struct openvpn_plugin_args_func_in fbad = {.type = OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY,
                                               .argv = fargv,
                                               .envp = bad,
                                               .handle = ret.handle};
    assert_int_equal(fn(OPENVPN_PLUGINv3_STRUCTVER, &fbad, &fret), OPENVPN_PLUGIN_FUNC_ERROR);
    cl(ret.handle);
    dlclose(so);
    /* the password never reaches the log */
    assert_int_equal(fakehost_find("s3cret"), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(open__null_arguments_fail_closed, reset),
        cmocka_unit_test_setup(open__old_struct_version_is_refused, reset),
        cmocka_unit_test_setup(open__host_without_a_needed_event_is_refused_by_name, reset),
        cmocka_unit_test_setup(open__optional_event_taken_only_when_offered, reset),
        cmocka_unit_test_setup(set_events__narrows_to_what_descriptor_and_host_allow, reset),
        cmocka_unit_test_setup(open__plugin_refusal_gives_error_no_handle_and_a_reason, reset),
        cmocka_unit_test_setup(func__null_input_or_handle_fails_closed, reset),
        cmocka_unit_test_setup(func__unregistered_event_is_refused, reset),
        cmocka_unit_test_setup(func__deferred_where_it_cannot_be_becomes_error, reset),
        cmocka_unit_test_setup(func__unknown_return_code_becomes_error, reset),
        cmocka_unit_test_setup(func__null_argv_and_envp_arrive_as_empty_arrays, reset),
        cmocka_unit_test_setup(func__client_context_and_who_are_passed, reset),
        cmocka_unit_test_setup(func__return_list_given_only_for_client_connect_v2, reset),
        cmocka_unit_test_setup(func__worker_lines_reach_host_on_its_thread, reset),
        cmocka_unit_test_setup(close_and_abort__reach_the_plugin, reset),
        cmocka_unit_test_setup(dlopen__test_plugin_loads_now_and_shows_only_the_fence, reset),
        cmocka_unit_test_setup(dlopen__test_plugin_authenticates_through_the_framework, reset),
    };
    return cmocka_run_group_tests_name("plugin", tests, NULL, NULL);
}
