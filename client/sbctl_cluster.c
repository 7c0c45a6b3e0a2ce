/*
 * sbctl health and sbctl cluster ...: the node's health for scripts and
 * cluster managers, the cluster as a node sees it, and the manual
 * designation of the master secret server (docs/api.md, "Cluster").
 */
#define _GNU_SOURCE
#include "sbctl_cmd.h"

#include "sbctl_output.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int sbctl_health_exit(long http_status, const json_t *body)
{
	/* Only a health body counts: a 503 with an error body instead
	 * (shutting_down) is not "no secret". */
	const char *storage;

	if (!json_is_string(json_object_get(body, "status")))
		return -1;
	storage = json_string_value(json_object_get(body, "storage"));
	if ((http_status == 200 || http_status == 429) && storage != NULL &&
	    strcmp(storage, "unreachable") == 0)
		return SBCTL_EXIT_NO_STORAGE;
	switch (http_status) {
	case 200: return SBCTL_EXIT_OK;
	case 429: return SBCTL_EXIT_STANDBY;
	case 473: return SBCTL_EXIT_MEMBER;
	case 503: return SBCTL_EXIT_NO_SECRET;
	default: return -1;
	}
}

/* Says on stderr why a reply of GET /v1/health is not a health status:
 * the daemon's error (503 shutting_down) or an unexpected reply. */
static void report_not_health(struct sbctl_ctx *x, long status,
			      const json_t *reply)
{
	const json_t *err = json_object_get(reply, "error");
	const char *msg = json_string_value(json_object_get(err, "message"));

	fputs("sbctl: secretbrokerd at ", stderr);
	sbctl_put_safe(stderr, sb_client_socket_path(x->client));
	fprintf(stderr, " answered GET /v1/health with HTTP %ld", status);
	if (msg != NULL) {
		fputs(": ", stderr);
		sbctl_put_safe(stderr, msg);
		fputs(" (", stderr);
		sbctl_put_safe(stderr,
			       json_string_value(json_object_get(err, "code")));
		fputc(')', stderr);
	} else {
		fputs(", not a health status", stderr);
	}
	fputc('\n', stderr);
}

int sbctl_cmd_health(struct sbctl_ctx *x)
{
	struct sb_client_error e;
	json_t *reply = NULL;
	long status = 0;
	int r, ret = SBCTL_EXIT_REFUSED;

	/* sb_client_request, not sbctl_call: 429, 473 and 503 are answers
	 * here, not failures. */
	r = sb_client_request(x->client, "GET", "/v1/health", NULL, &status,
			      &reply, &e);
	if (r != SB_CLIENT_OK) {
		ret = sbctl_report(x, r, &e, &reply);
		goto done;
	}
	if (x->args->json && reply != NULL)
		sbctl_print_json(stdout, reply);
	if ((r = sbctl_health_exit(status, reply)) < 0) {
		report_not_health(x, status, reply);
		goto done;
	}
	/* --quiet (never with --json): the exit status alone. */
	if (!x->args->json && !x->args->quiet)
		sbctl_print_health(stdout, reply);
	ret = r;
done:
	json_decref(reply);
	return ret;
}

int sbctl_cmd_cluster_status(struct sbctl_ctx *x)
{
	json_t *reply = NULL;
	struct timespec now;
	int ret;

	if ((ret = sbctl_call(x, "GET", "/v1/cluster", NULL, &reply)) != 0)
		return ret;
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else {
		clock_gettime(CLOCK_REALTIME, &now);
		sbctl_print_cluster(stdout, reply,
				    (long long)now.tv_sec * 1000 +
					    now.tv_nsec / 1000000);
	}
	json_decref(reply);
	return 0;
}

/* Prints the reply of a designation or promotion ({"active", "epoch"}):
 * "VERB NODE as the active master secret server at epoch N", then tail. */
static void print_promoted(const json_t *reply, const char *verb,
			   const char *tail)
{
	const json_t *epoch = json_object_get(reply, "epoch");

	fprintf(stdout, "%s ", verb);
	sbctl_put_safe(stdout,
		       json_string_value(json_object_get(reply, "active")));
	fputs(" as the active master secret server at epoch ", stdout);
	if (json_is_integer(epoch))
		fprintf(stdout, "%lld", (long long)json_integer_value(epoch));
	else
		fputc('?', stdout);
	fprintf(stdout, "%s\n", tail);
}

int sbctl_cmd_cluster_designate(struct sbctl_ctx *x)
{
	const char *node = x->args->name;
	json_t *body = NULL, *reply = NULL;
	char question[512], what[256];
	int ret;

	snprintf(question, sizeof(question),
		 "Make node %s the active master secret server? The node "
		 "active now steps down and its writes are refused.",
		 node);
	snprintf(what, sizeof(what), "designate node %s", node);
	if ((ret = sbctl_confirm(x, question, what)) != 0)
		goto done;
	if ((body = json_pack("{s:s}", "node", node)) == NULL) {
		sbctl_errorf("NODE \"%s\" is not valid UTF-8", node);
		ret = SBCTL_EXIT_USAGE;
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", "/v1/cluster/designate", body,
			      &reply)) != 0)
		goto done;
	if (x->args->json)
		sbctl_print_json(stdout, reply);
	else
		print_promoted(reply, "designated",
			       "; the node active before steps down by itself");
done:
	json_decref(body);
	json_decref(reply);
	return ret;
}

int sbctl_cmd_cluster_promote(struct sbctl_ctx *x)
{
	json_t *reply = NULL;
	int ret;

	if ((ret = sbctl_call(x, "POST", "/v1/cluster/promote", NULL,
			      &reply)) != 0)
		goto done;
	if (x->args->json)
		sbctl_print_json(stdout, reply);
	else
		print_promoted(reply, "promoted", "");
done:
	json_decref(reply);
	return ret;
}

int sbctl_cmd_cluster_demote(struct sbctl_ctx *x)
{
	json_t *reply = NULL;
	int ret;

	if ((ret = sbctl_call(x, "POST", "/v1/cluster/demote", NULL, &reply)) !=
	    0)
		goto done;
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else {
		sbctl_put_safe(stdout, json_string_value(
					       json_object_get(reply, "node")));
		fputs(" is a standby master secret server\n", stdout);
	}
done:
	json_decref(reply);
	return ret;
}
