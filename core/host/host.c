/* Host services for plugins: see host.h. */
#define _GNU_SOURCE
#include "host/host.h"

#include "runtime/log.h"
#include "runtime/secure_mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct host_private {
	char prefix[128];
	char *state_dir;
	char *node_name;
};

static void host_log(const struct sb_host *host, int level, const char *fmt,
		     ...)
{
	const struct host_private *hp = host->host_private;
	va_list ap;

	va_start(ap, fmt);
	sb_logv(level, hp ? hp->prefix : "plugin", fmt, ap);
	va_end(ap);
}
struct sb_host *sb_host_new(const char *kind, const char *plugin_name,
			    const char *state_dir, const char *node_name)
{
	struct sb_host *host = calloc(1, sizeof(*host));
	struct host_private *hp = calloc(1, sizeof(*hp));

	if (host == NULL || hp == NULL)
		goto fail;
	snprintf(hp->prefix, sizeof(hp->prefix), "%s/%s", kind, plugin_name);
	hp->state_dir = strdup(state_dir ? state_dir : "");
	hp->node_name = strdup(node_name ? node_name : "");
	if (hp->state_dir == NULL || hp->node_name == NULL)
		goto fail;
	host->size = sizeof(*host);
	host->version = SB_HOST_VERSION;
	host->log = host_log;
	host->secure_alloc = sb_secure_alloc;
	host->secure_free = sb_secure_free;
	host->config_get = sb_config_get;
	host->config_get_int = sb_config_get_int;
	host->config_get_bool = sb_config_get_bool;
	host->config_section = sb_config_section;
	host->wall_ms = sb_wall_ms;
	host->mono_ms = sb_mono_ms;
	host->state_dir = hp->state_dir;
	host->node_name = hp->node_name;
	host->host_private = hp;
	return host;
fail:
	if (hp) {
		free(hp->state_dir);
		free(hp->node_name);
	}
	free(hp);
	free(host);
	return NULL;
}

void sb_host_free(struct sb_host *host)
{
	struct host_private *hp;

	if (host == NULL)
		return;
	hp = host->host_private;
	if (hp) {
		free(hp->state_dir);
		free(hp->node_name);
		free(hp);
	}
	free(host);
}
