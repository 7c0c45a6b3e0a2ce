/*
 * The host side of the plugin ABI: the struct sb_host services table handed
 * to each plugin instance. The services it offers live in runtime/ and are
 * re-exported here for the code that hosts plugins.
 */
#ifndef SB_HOST_H
#define SB_HOST_H

#include "runtime/clock.h"
#include "runtime/section.h"
#include "runtime/status.h"

#include <secretbroker/plugin.h>

/* Allocates a host services table for one plugin instance. The log prefix
 * is "<kind>/<plugin_name>"; state_dir and node_name are copied and live as
 * long as the table. Returns NULL on ENOMEM. */
struct sb_host *sb_host_new(const char *kind, const char *plugin_name,
			    const char *state_dir, const char *node_name);
void sb_host_free(struct sb_host *host);

#endif
