/*
 * sbctl's human-readable output of API replies. Tolerant by design: a field
 * the daemon does not send (older or newer daemon) is shown as "?" or left
 * out, never a crash. Strings from the daemon are printed with control
 * characters escaped, so a hostile hint or node name cannot drive the
 * terminal.
 */
#ifndef SBCTL_OUTPUT_H
#define SBCTL_OUTPUT_H

#include <jansson.h>
#include <stdio.h>

/* Formats a number of seconds as "3d 4h 5m", "4h 5m 6s", "5m 6s" or "6s"
 * into buf (n bytes); "?" when negative. Returns buf. */
const char *sbctl_format_duration(long long seconds, char *buf, size_t n);

/* Prints s with bytes below 0x20 (but tab) and 0x7f written as \xNN. */
void sbctl_put_safe(FILE *f, const char *s);

/* The reply of GET /v1/status, as `sbctl status` shows it. */
void sbctl_print_status(FILE *f, const json_t *status);

/* The reply of GET /v1/health, as `sbctl health` shows it: one line,
 * "STATUS: node NODE, ROLE, epoch N[, ...]", ending with "SSO database
 * UNREACHABLE" when "storage" says so. */
void sbctl_print_health(FILE *f, const json_t *health);

/* A node that has not reported in for longer than this is shown as stale:
 * nodes report every 5 s, so three reports in a row were missed. */
#define SBCTL_CLUSTER_STALE_MS 15000

/*
 * The reply of GET /v1/cluster, as `sbctl cluster status` shows it: this
 * node, the active master secret server recorded in the SSO database, the
 * lease as the storage sees it, and a table of the nodes that have
 * reported in (stale ones marked). now_ms is the current wall-clock time
 * in milliseconds since the epoch, for the age of the MSS record.
 */
void sbctl_print_cluster(FILE *f, const json_t *cluster, long long now_ms);

/* The reply of GET /v1/secret, as `sbctl secret status` shows it. */
void sbctl_print_secret(FILE *f, const json_t *secret);

/* GET /v1/apps: one line per application, NAME TYPE STATE DESCRIPTION. */
void sbctl_print_apps(FILE *f, const json_t *reply);

/* An application object (GET /v1/apps/{app} and the writes' replies). */
void sbctl_print_app(FILE *f, const json_t *app);

/* {"mappings": [...]}: one line per mapping, APP IDENTITY STATE UPDATED. */
void sbctl_print_mappings(FILE *f, const json_t *reply);

/* A lookup's reply {"app", "identity", "values"}: the application and
 * identity, then one "label: value" line per field in the reply's order. */
void sbctl_print_values(FILE *f, const json_t *reply);

/* A config reply {"app", "id", "values"}: one KEY=VALUE line per key, or,
 * when key is not NULL, the value of key alone. */
void sbctl_print_config(FILE *f, const json_t *reply, const char *key);

/* Pretty JSON (2-space indent) and a newline: what --json prints. */
void sbctl_print_json(FILE *f, const json_t *j);

#endif
