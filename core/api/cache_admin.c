/*
 * Administration of the credential cache (see docs/api.md): purge it.
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "api/store_common.h"

#include "runtime/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* POST /v1/cache/purge {"app"?} */
void sb_handle_cache_purge(struct sb_req *r)
{
	const char *name =
		r->body ? json_string_value(json_object_get(r->body, "app"))
			: NULL;

	sb_req_audit(r, "cache.purge", 2, name, NULL);
	if (name) {
		struct sb_app app;

		if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
			return;
		if (sb_api_app_role(r, &app) < ROLE_APP_ADMIN) {
			sb_api_forbid_app(r, &app, "purging the cache",
					  ROLE_APP_ADMIN);
			sb_app_clear(&app);
			return;
		}
		sb_app_clear(&app);
	} else if (!sb_require_admin(r)) {
		return;
	}
	/* Entries are not indexed by application: purging one application
	 * purges all, which only costs storage reads. */
	sb_cache_invalidate_all(&r->d->cache_inval);
	sb_reply_json(r, 200,
		      json_pack("{s:s}", "purged", name ? name : "all"));
}
