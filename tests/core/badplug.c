/* badplug.c: deliberately broken plugins (one per -D switch) that a host must refuse clearly. */
#include "ovpbuild.h"

#include <stddef.h>
#include <openvpn/openvpn-plugin.h>

#define EXPORT __attribute__((visibility("default")))

#ifndef BAD_NULL_HANDLE
static int token;
#endif

EXPORT int
openvpn_plugin_open_v3(const int version, struct openvpn_plugin_args_open_in const *in,
                       struct openvpn_plugin_args_open_return *ret)
{
    (void)version;
    (void)in;
    ret->type_mask = OPENVPN_PLUGIN_MASK(OPENVPN_PLUGIN_AUTH_USER_PASS_VERIFY);
#ifdef BAD_BIG_MASK
    /* an event number OpenVPN does not have */
    ret->type_mask |= 1 << 16;
#endif
#ifdef BAD_NULL_HANDLE
    /* "success", but nothing to call later */
    ret->handle = NULL;
#else
    ret->handle = &token;
#endif
    return OPENVPN_PLUGIN_FUNC_SUCCESS;
}

#ifndef BAD_NO_FUNC
EXPORT int
openvpn_plugin_func_v3(const int version, struct openvpn_plugin_args_func_in const *in,
                       struct openvpn_plugin_args_func_return *ret)
{
    (void)version;
    (void)in;
    (void)ret;
    return OPENVPN_PLUGIN_FUNC_SUCCESS;
}
#endif

#ifndef BAD_NO_CLOSE
EXPORT void
openvpn_plugin_close_v1(openvpn_plugin_handle_t handle)
{
    (void)handle;
}
#endif

#ifdef BAD_NEWER
EXPORT int
openvpn_plugin_min_version_required_v1(void)
{
    return OPENVPN_PLUGIN_VERSION + 1;
}
#endif
