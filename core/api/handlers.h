/*
 * The API's request handlers, one file per resource, and what they share
 * about this node's state (api.c). routes.c names each handler in the
 * route table; the handler reads the segments its pattern captured from
 * r->params (in the pattern's order) and must reply exactly once.
 */
#ifndef SB_HANDLERS_H
#define SB_HANDLERS_H

#include "api/http.h"

#include <stdint.h>

/* The epoch this node writes secret material with: its fencing epoch when
 * active (into *epoch, returns 0). Replies 503 not_active naming the
 * active node and returns -1 on a standby. */
int sb_api_active_epoch(struct sb_req *r, uint64_t *epoch);
/* Returns 1 on an MSS node; replies 409 member_node and returns 0 on a
 * member (it holds no secret at rest, so neither generates nor restores
 * one). */
int sb_api_mss_only(struct sb_req *r);

/* health.c */
void sb_handle_health(struct sb_req *r);
void sb_handle_status(struct sb_req *r);

/* secret_routes.c */
void sb_handle_secret_status(struct sb_req *r);
void sb_handle_secret_generate(struct sb_req *r);
void sb_handle_secret_backup(struct sb_req *r);
void sb_handle_secret_hint(struct sb_req *r);
void sb_handle_secret_restore(struct sb_req *r);
void sb_handle_secret_rotate(struct sb_req *r);
void sb_handle_secret_rotate_commit(struct sb_req *r);

/* cluster_routes.c */
void sb_handle_cluster(struct sb_req *r);
void sb_handle_cluster_designate(struct sb_req *r);
void sb_handle_cluster_promote(struct sb_req *r);
void sb_handle_cluster_demote(struct sb_req *r);
void sb_handle_cluster_secret(struct sb_req *r);

/* apps.c: {app} is params.value[0] */
void sb_handle_apps_list(struct sb_req *r);
void sb_handle_apps_create(struct sb_req *r);
void sb_handle_apps_import(struct sb_req *r);
void sb_handle_app_get(struct sb_req *r);
void sb_handle_app_update(struct sb_req *r);
void sb_handle_app_delete(struct sb_req *r);

/* mappings.c: {app}, {identity} */
void sb_handle_mappings_of_app(struct sb_req *r);
void sb_handle_mappings_of_user(struct sb_req *r);
void sb_handle_mapping_set(struct sb_req *r);
void sb_handle_mapping_get(struct sb_req *r);
void sb_handle_mapping_update(struct sb_req *r);
void sb_handle_mapping_delete(struct sb_req *r);

/* lookup.c: {app} */
void sb_handle_lookup(struct sb_req *r);

/* tickets.c */
void sb_handle_ticket_issue(struct sb_req *r);
void sb_handle_ticket_redeem(struct sb_req *r);

/* config_store.c: {app}, {id}, {key} */
void sb_handle_config_set(struct sb_req *r);
void sb_handle_config_get(struct sb_req *r);
void sb_handle_config_delete(struct sb_req *r);

/* cache_admin.c */
void sb_handle_cache_purge(struct sb_req *r);

/* metrics.c */
void sb_handle_metrics(struct sb_req *r);

#endif
