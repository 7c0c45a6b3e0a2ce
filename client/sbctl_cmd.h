/*
 * What sbctl's command handlers share: the context they run in, exit
 * statuses, one-line errors, one API call with the error reporting every
 * command uses, and the handlers of the credential-store commands
 * (sbctl_app.c, sbctl_cred.c, sbctl_config.c). Each handler returns the
 * exit status.
 */
#ifndef SBCTL_CMD_H
#define SBCTL_CMD_H

#include <secretbroker/client.h>

#include "sbctl_args.h"

#define SBCTL_EXIT_OK	   0
#define SBCTL_EXIT_REFUSED 1
#define SBCTL_EXIT_USAGE   2
#define SBCTL_EXIT_CONNECT 3
/* sbctl health only (0 is the active master secret server): */
#define SBCTL_EXIT_STANDBY    10 /* a standby master secret server */
#define SBCTL_EXIT_MEMBER     11 /* a member node */
#define SBCTL_EXIT_NO_SECRET  12 /* a node that holds no master secret */
#define SBCTL_EXIT_NO_STORAGE 13 /* an MSS that cannot reach its storage */

struct sbctl_ctx {
	const struct sbctl_args *args;
	struct sb_client *client;
};

/* Prints "sbctl: <message>" and a newline on stderr. */
void sbctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * One API call. Returns 0 with *reply set (the caller json_decref's it), or
 * the exit status after printing `sbctl: <message> (<code>)` and, with
 * --json, the daemon's error body on stdout.
 */
int sbctl_call(struct sbctl_ctx *x, const char *method, const char *path,
	       const json_t *body, json_t **reply);

/*
 * The error half of sbctl_call(), for the library's other calls: r and e
 * are what the call returned. Returns 0 when r is SB_CLIENT_OK; otherwise
 * reports as sbctl_call() does, drops *reply and returns the exit status.
 */
int sbctl_report(struct sbctl_ctx *x, int r, const struct sb_client_error *e,
		 json_t **reply);

/*
 * Asks "question [y/N] " on the terminal unless --yes was given. Returns 0
 * to go ahead, or the exit status after saying why not: the answer was not
 * yes, or there is no terminal (then --yes is needed). what names the
 * action for those messages ("delete application crm").
 */
int sbctl_confirm(struct sbctl_ctx *x, const char *question, const char *what);

/*
 * The exit status of sbctl health for a reply of GET /v1/health: 0 for
 * 200 (active MSS), SBCTL_EXIT_STANDBY for 429, SBCTL_EXIT_MEMBER for 473,
 * SBCTL_EXIT_NO_SECRET for 503, each only with a health body (an object
 * with a string "status"); -1 for anything else (an error body such as
 * 503 shutting_down, another status). An MSS (200 or 429) whose body says
 * "storage": "unreachable" is SBCTL_EXIT_NO_STORAGE instead, so that
 * keepalived moves the address away from a node that lost its database;
 * a member's storage does not change its status, and 503 stays 12.
 */
int sbctl_health_exit(long http_status, const json_t *body);

int sbctl_cmd_health(struct sbctl_ctx *x);
int sbctl_cmd_cluster_status(struct sbctl_ctx *x);
int sbctl_cmd_cluster_designate(struct sbctl_ctx *x);
int sbctl_cmd_cluster_promote(struct sbctl_ctx *x);
int sbctl_cmd_cluster_demote(struct sbctl_ctx *x);

int sbctl_cmd_ticket_issue(struct sbctl_ctx *x);
int sbctl_cmd_ticket_redeem(struct sbctl_ctx *x);

int sbctl_cmd_app_create(struct sbctl_ctx *x);
int sbctl_cmd_app_list(struct sbctl_ctx *x);
int sbctl_cmd_app_show(struct sbctl_ctx *x);
int sbctl_cmd_app_update(struct sbctl_ctx *x);
int sbctl_cmd_app_enable(struct sbctl_ctx *x);
int sbctl_cmd_app_disable(struct sbctl_ctx *x);
int sbctl_cmd_app_delete(struct sbctl_ctx *x);
int sbctl_cmd_app_import(struct sbctl_ctx *x);

int sbctl_cmd_cred_set(struct sbctl_ctx *x);
int sbctl_cmd_cred_get(struct sbctl_ctx *x);
int sbctl_cmd_mapping_list(struct sbctl_ctx *x);
int sbctl_cmd_mapping_enable(struct sbctl_ctx *x);
int sbctl_cmd_mapping_disable(struct sbctl_ctx *x);
int sbctl_cmd_mapping_delete(struct sbctl_ctx *x);

int sbctl_cmd_config_set(struct sbctl_ctx *x);
int sbctl_cmd_config_get(struct sbctl_ctx *x);
int sbctl_cmd_config_delete(struct sbctl_ctx *x);
int sbctl_cmd_cache_purge(struct sbctl_ctx *x);

#endif
