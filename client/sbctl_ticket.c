/*
 * sbctl ticket issue|redeem: ENTSSO's IssueTicket and RedeemTicket
 * (docs/api.md, Tickets). A ticket is a bearer secret until it is redeemed
 * or expires: issue prints it on stdout only, redeem reads it from
 * standard input, never from the command line.
 */
#define _GNU_SOURCE
#include "sbctl_cmd.h"

#include "fileio.h"
#include "sbctl_output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICKET_INPUT_MAX 4096

int sbctl_cmd_ticket_issue(struct sbctl_ctx *x)
{
	json_t *body = NULL, *reply = NULL;
	const char *ticket;
	int ret = SBCTL_EXIT_REFUSED;

	if ((body = json_pack("{s:s}", "app", x->args->name)) == NULL) {
		sbctl_errorf("out of memory");
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", "/v1/tickets", body, &reply)) != 0)
		goto done;
	ticket = json_string_value(json_object_get(reply, "ticket"));
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else if (ticket != NULL) {
		fprintf(stdout, "%s\n", ticket);
	} else {
		sbctl_errorf("the daemon's reply holds no ticket");
		ret = SBCTL_EXIT_REFUSED;
	}
done:
	json_decref(body);
	json_decref(reply); /* jansson frees through the wiping free */
	return ret;
}

int sbctl_cmd_ticket_redeem(struct sbctl_ctx *x)
{
	json_t *body = NULL, *reply = NULL;
	unsigned char *data = NULL;
	size_t len = 0, total = 0;
	char err[512];
	int ret = SBCTL_EXIT_REFUSED;

	if (sbctl_read_stream("standard input", STDIN_FILENO, TICKET_INPUT_MAX,
			      &data, &len, err, sizeof(err)) != 0) {
		sbctl_errorf("%s", err);
		goto done;
	}
	total = len;
	/* The first line, without its line end. */
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' || data[i] == '\r') {
			len = i;
			break;
		}
	if (len == 0) {
		sbctl_errorf("no ticket on standard input (give it as the "
			     "first line: sbctl ticket redeem APP < FILE)");
		ret = SBCTL_EXIT_USAGE;
		goto done;
	}
	body = json_pack("{s:s%, s:s}", "ticket", (const char *)data, len,
			 "app", x->args->name);
	if (body == NULL) {
		sbctl_errorf("the ticket on standard input is not text");
		ret = SBCTL_EXIT_USAGE;
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", "/v1/tickets/redeem", body, &reply)) !=
	    0)
		goto done;
	if (x->args->json)
		sbctl_print_json(stdout, reply);
	else
		sbctl_print_values(stdout, reply);
done:
	if (data != NULL) {
		explicit_bzero(data, total);
		free(data);
	}
	json_decref(body);
	json_decref(reply);
	return ret;
}
