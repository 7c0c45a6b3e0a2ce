/* Status codes and error messages: see status.h. */
#include "runtime/status.h"

#include <stdio.h>

const char *sb_status_name(int status)
{
	switch (status) {
	case SB_OK: return "ok";
	case SB_ENOTFOUND: return "not_found";
	case SB_ECONFLICT: return "conflict";
	case SB_EFENCED: return "fenced";
	case SB_EBUSY: return "busy";
	case SB_EUNAVAIL: return "unavailable";
	case SB_ETIMEOUT: return "timeout";
	case SB_EINVAL: return "invalid";
	case SB_ENOMEM: return "no_memory";
	case SB_EAUTH: return "auth_failed";
	case SB_ENOTSUP: return "not_supported";
	case SB_EEXPIRED: return "expired";
	default: return "error";
	}
}
