/* http_backend_unit.c: ovp-auth-http's backend (auth-http/http_backend.c, which is not in
 * libauthhttp.la: it needs libcurl) compiled into test_auth_http, so that a unit test can
 * call ah_request_free on a request it built and check what it frees. */
#include "../../auth-http/http_backend.c"
