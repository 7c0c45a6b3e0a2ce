/* The plumbing sbctl's command handlers share: see sbctl_cmd.h. */
#define _GNU_SOURCE
#include "sbctl_cmd.h"

#include "password.h"
#include "sbctl_output.h"

#include <stdarg.h>
#include <stdio.h>

void sbctl_errorf(const char *fmt, ...)
{
	va_list ap;

	fputs("sbctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int sbctl_call(struct sbctl_ctx *x, const char *method, const char *path,
	       const json_t *body, json_t **reply)
{
	struct sb_client_error e;
	int r;

	r = sb_client_call(x->client, method, path, body, reply, &e);
	return sbctl_report(x, r, &e, reply);
}

int sbctl_report(struct sbctl_ctx *x, int r, const struct sb_client_error *e,
		 json_t **reply)
{
	if (r == SB_CLIENT_OK)
		return 0;
	if (r == SB_CLIENT_ESERVER && x->args->json && *reply != NULL)
		sbctl_print_json(stdout, *reply);
	json_decref(*reply);
	*reply = NULL;
	fputs("sbctl: ", stderr);
	sbctl_put_safe(stderr, e->message);
	if (e->code[0] != '\0') {
		fputs(" (", stderr);
		sbctl_put_safe(stderr, e->code);
		fputc(')', stderr);
	}
	fputc('\n', stderr);
	return r == SB_CLIENT_ECONNECT ? SBCTL_EXIT_CONNECT
				       : SBCTL_EXIT_REFUSED;
}

int sbctl_confirm(struct sbctl_ctx *x, const char *question, const char *what)
{
	char err[512], prompt[512];
	int r;

	if (x->args->yes)
		return 0;
	snprintf(prompt, sizeof(prompt), "%s [y/N] ", question);
	r = sbctl_tty_confirm(prompt, "give --yes to confirm without one", err,
			      sizeof(err));
	if (r == -1) {
		sbctl_errorf("will not %s without confirmation: %s", what, err);
		return SBCTL_EXIT_REFUSED;
	}
	if (r == 0) {
		sbctl_errorf("did not %s: not confirmed", what);
		return SBCTL_EXIT_REFUSED;
	}
	return 0;
}
