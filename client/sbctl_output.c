/* Human-readable output for sbctl: see sbctl_output.h. */
#define _GNU_SOURCE
#include "sbctl_output.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

/* Width of the "label:" column. */
#define LABEL_WIDTH 15

const char *sbctl_format_duration(long long s, char *buf, size_t n)
{
	long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60,
		  sec = s % 60;

	if (s < 0)
		snprintf(buf, n, "?");
	else if (d > 0)
		snprintf(buf, n, "%lldd %lldh %lldm", d, h, m);
	else if (h > 0)
		snprintf(buf, n, "%lldh %lldm %llds", h, m, sec);
	else if (m > 0)
		snprintf(buf, n, "%lldm %llds", m, sec);
	else
		snprintf(buf, n, "%llds", sec);
	return buf;
}

void sbctl_put_safe(FILE *f, const char *s)
{
	if (s == NULL) {
		fputc('?', f);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

void sbctl_print_json(FILE *f, const json_t *j)
{
	json_dumpf(j, f, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', f);
}

/* The string member key of o, or NULL when absent or not a string. */
static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Sets *v to the integer member key of o; returns 0 when it is not one. */
static int jint(const json_t *o, const char *key, long long *v)
{
	const json_t *j = json_object_get(o, key);

	if (!json_is_integer(j))
		return 0;
	*v = (long long)json_integer_value(j);
	return 1;
}

static void label(FILE *f, const char *name)
{
	fprintf(f, "%-*s", LABEL_WIDTH, name);
}

static void indent(FILE *f)
{
	fprintf(f, "%-*s", LABEL_WIDTH, "");
}

static void print_fencing(FILE *f, const json_t *fen)
{
	long long v;
	const char *detail = jstr(fen, "detail");

	label(f, "fencing:");
	if (!json_is_object(fen)) {
		fputs("?\n", f);
		return;
	}
	/* A member node loads no fencing plugin: the daemon sends "". */
	if (jstr(fen, "plugin") != NULL && jstr(fen, "plugin")[0] == '\0')
		fputs("none", f);
	else
		sbctl_put_safe(f, jstr(fen, "plugin"));
	fputs(", ", f);
	sbctl_put_safe(f, jstr(fen, "state"));
	if (jint(fen, "epoch", &v))
		fprintf(f, ", epoch %lld", v);
	/* A negative lease means the plugin has none (e.g. "none"). */
	if (jint(fen, "lease_left_ms", &v) && v >= 0)
		fprintf(f, ", lease left %lld.%03llds", v / 1000, v % 1000);
	if (detail != NULL && detail[0] != '\0') {
		fputs(" (", f);
		sbctl_put_safe(f, detail);
		fputc(')', f);
	}
	fputc('\n', f);
}

static void print_plugins(FILE *f, const json_t *plugins)
{
	size_t i;
	const json_t *p;
	int first = 1;

	label(f, "plugins:");
	if (!json_is_array(plugins)) {
		fputs("?\n", f);
		return;
	}
	json_array_foreach(plugins, i, p)
	{
		const char *path = jstr(p, "path");

		/* null: a kind this node does not load (a member's fencing). */
		if (json_is_null(p))
			continue;
		if (!first)
			indent(f);
		first = 0;
		fprintf(f, "%-8s ", jstr(p, "kind") ? jstr(p, "kind") : "?");
		sbctl_put_safe(f, jstr(p, "name"));
		fputc(' ', f);
		sbctl_put_safe(f, jstr(p, "version"));
		if (path != NULL) {
			fputs("  ", f);
			sbctl_put_safe(f, path);
		}
		fputc('\n', f);
	}
	if (first)
		fputs("none\n", f);
}

static void print_config(FILE *f, const json_t *cfg)
{
	long long v;
	const char *at = jstr(cfg, "loaded_at");

	label(f, "config:");
	if (!json_is_object(cfg)) {
		fputs("?\n", f);
		return;
	}
	sbctl_put_safe(f, jstr(cfg, "file"));
	if (jint(cfg, "generation", &v))
		fprintf(f, ", generation %lld", v);
	if (at != NULL) {
		fputs(", loaded at ", f);
		sbctl_put_safe(f, at);
	}
	fputc('\n', f);
}

/* Prints each string of arr on its own indented line after prefix. */
static void print_string_list(FILE *f, const char *prefix, const json_t *arr)
{
	size_t i;
	const json_t *s;

	json_array_foreach(arr, i, s)
	{
		indent(f);
		fputs(prefix, f);
		sbctl_put_safe(f, json_string_value(s));
		fputc('\n', f);
	}
}

static void print_last_reload(FILE *f, const json_t *r)
{
	const char *result = jstr(r, "result"), *at = jstr(r, "at");
	const json_t *restart = json_object_get(r, "restart_required");

	label(f, "last reload:");
	if (r == NULL || json_is_null(r)) {
		fputs("none since start\n", f);
		return;
	}
	if (result != NULL && strcmp(result, "failed") == 0)
		fputs("FAILED, the previous configuration is still in use", f);
	else
		sbctl_put_safe(f, result);
	if (at != NULL) {
		fputs(" (at ", f);
		sbctl_put_safe(f, at);
		fputc(')', f);
	}
	fputc('\n', f);
	print_string_list(f, "error: ", json_object_get(r, "errors"));
	if (json_array_size(restart) > 0) {
		size_t i;
		const json_t *k;

		indent(f);
		fputs("restart required for:", f);
		json_array_foreach(restart, i, k)
		{
			fputc(' ', f);
			sbctl_put_safe(f, json_string_value(k));
		}
		fputc('\n', f);
	}
}

/* The rotation line and the age warning of a secret status object s (GET
 * /v1/secret, or /v1/status's "secret"), when it has them. */
static void print_rotation(FILE *f, const json_t *s)
{
	const json_t *rot = json_object_get(s, "rotation");
	const char *age_warning = jstr(s, "age_warning");

	if (json_is_object(rot)) {
		long long done = 0, total = 0, skipped = 0;
		double rate = json_number_value(json_object_get(rot, "rate"));

		jint(rot, "done", &done);
		jint(rot, "total", &total);
		jint(rot, "skipped", &skipped);
		label(f, "rotation:");
		sbctl_put_safe(f, jstr(rot, "state"));
		fputs(" from ", f);
		sbctl_put_safe(f, jstr(rot, "from"));
		fprintf(f, ", %lld of %lld records", done, total);
		if (rate > 0)
			fprintf(f, " at %.0f/s", rate);
		if (skipped > 0)
			fprintf(f, ", %lld left as is (see the log)", skipped);
		fputc('\n', f);
	}
	/* The daemon's own words for what needs doing. */
	if (age_warning != NULL) {
		fputs("WARNING: ", f);
		sbctl_put_safe(f, age_warning);
		fputc('\n', f);
	}
}

void sbctl_print_status(FILE *f, const json_t *st)
{
	long long up;
	char dur[64];
	const json_t *secret = json_object_get(st, "secret");

	label(f, "secretbrokerd:");
	sbctl_put_safe(f, jstr(st, "version"));
	if (jint(st, "uptime_s", &up))
		fprintf(f, ", up %s",
			sbctl_format_duration(up, dur, sizeof(dur)));
	fputc('\n', f);
	label(f, "node:");
	sbctl_put_safe(f, jstr(st, "node"));
	fputc('\n', f);
	label(f, "role:");
	sbctl_put_safe(f, jstr(st, "role"));
	fputc('\n', f);
	print_fencing(f, json_object_get(st, "fencing"));
	print_plugins(f, json_object_get(st, "plugins"));
	print_config(f, json_object_get(st, "config"));
	print_last_reload(f, json_object_get(st, "last_reload"));
	label(f, "secret:");
	if (json_is_true(json_object_get(secret, "present"))) {
		fputs("MSID ", f);
		sbctl_put_safe(f, jstr(secret, "msid"));
		if (jstr(secret, "previous_msid") != NULL) {
			fputs(" (previous ", f);
			sbctl_put_safe(f, jstr(secret, "previous_msid"));
			fputc(')', f);
		}
		fputc('\n', f);
		print_rotation(f, secret);
	} else if (json_is_object(secret)) {
		fputs("none on this node\n", f);
	} else {
		fputs("?\n", f);
	}
}

void sbctl_print_secret(FILE *f, const json_t *s)
{
	long long v;
	char dur[64];
	const char *prev = jstr(s, "previous_msid"), *last;
	const char *warning = jstr(s, "warning"), *error = jstr(s, "error");
	const char *check = jstr(s, "check");

	label(f, "MSID:");
	sbctl_put_safe(f, jstr(s, "msid"));
	fputc('\n', f);
	label(f, "created at:");
	sbctl_put_safe(f, jstr(s, "created_at"));
	if (jint(s, "age_s", &v))
		fprintf(f, " (age %s)",
			sbctl_format_duration(v, dur, sizeof(dur)));
	fputc('\n', f);
	label(f, "backup:");
	if (json_is_true(json_object_get(s, "backup_made"))) {
		fputs("made", f);
		if ((last = jstr(s, "last_backup_at")) != NULL) {
			fputs(", last at ", f);
			sbctl_put_safe(f, last);
		}
		fputc('\n', f);
	} else if (json_is_false(json_object_get(s, "backup_made"))) {
		fputs("none made\n", f);
	} else {
		fputs("?\n", f);
	}
	if (prev != NULL) {
		label(f, "previous MSID:");
		sbctl_put_safe(f, prev);
		fputc('\n', f);
	}
	label(f, "role:");
	sbctl_put_safe(f, jstr(s, "role"));
	if (jstr(s, "fencing_state") != NULL) {
		fputs(" (fencing ", f);
		sbctl_put_safe(f, jstr(s, "fencing_state"));
		if (jint(s, "epoch", &v))
			fprintf(f, ", epoch %lld", v);
		fputc(')', f);
	}
	fputc('\n', f);
	if (check != NULL) {
		label(f, "check value:");
		if (strcmp(check, "ok") == 0)
			fputs("ok, matches the SSO database\n", f);
		else if (strcmp(check, "missing") == 0)
			fputs("none in the SSO database yet\n", f);
		else if (strcmp(check, "mismatch") == 0)
			fputs("MISMATCH with the SSO database\n", f);
		else {
			sbctl_put_safe(f, check);
			fputc('\n', f);
		}
	}
	print_rotation(f, s);
	if (error != NULL) {
		fputs("ERROR: ", f);
		sbctl_put_safe(f, error);
		fputc('\n', f);
	}
	if (warning != NULL) {
		fputs("WARNING: ", f);
		sbctl_put_safe(f, warning);
		fputc('\n', f);
	}
}

/* Width of the widest string member key among the objects of arr, at
 * least min, at most max. */
/* The columns s takes once printed by sbctl_put_safe (NULL: "?"): a
 * control character is written as 4 ("\x1b"), a UTF-8 continuation byte
 * adds none. */
static int display_width(const char *s)
{
	int n = 0;

	if (s == NULL)
		return 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			n += 4;
		else if ((*p & 0xc0) != 0x80)
			n++;
	}
	return n;
}

static int column_width(const json_t *arr, const char *key, int min, int max)
{
	size_t i;
	const json_t *o;
	int w = min;

	json_array_foreach(arr, i, o)
	{
		int n = display_width(jstr(o, key));

		if (n > w)
			w = n;
	}
	return w > max ? max : w;
}

/* Prints s (NULL: "?") and pads it with spaces to width columns. */
static void put_padded(FILE *f, const char *s, int width)
{
	int n = display_width(s);

	sbctl_put_safe(f, s);
	for (; n < width; n++)
		fputc(' ', f);
}

static const char *state_word(const json_t *o)
{
	const json_t *en = json_object_get(o, "enabled");

	if (json_is_true(en))
		return "enabled";
	if (json_is_false(en))
		return "disabled";
	return "?";
}

void sbctl_print_apps(FILE *f, const json_t *reply)
{
	const json_t *apps = json_object_get(reply, "apps"), *a;
	size_t i;
	int wn;

	if (json_array_size(apps) == 0) {
		fputs(json_is_array(apps) ? "no applications\n" : "?\n", f);
		return;
	}
	wn = column_width(apps, "name", 4, 64);
	put_padded(f, "NAME", wn + 2);
	fputs("TYPE          STATE     DESCRIPTION\n", f);
	json_array_foreach(apps, i, a)
	{
		const char *desc = jstr(a, "description");

		put_padded(f, jstr(a, "name"), wn + 2);
		put_padded(f, jstr(a, "type"), 14);
		/* No padding after the last word of a line. */
		if (desc != NULL && desc[0] != '\0') {
			put_padded(f, state_word(a), 10);
			sbctl_put_safe(f, desc);
		} else {
			fputs(state_word(a), f);
		}
		fputc('\n', f);
	}
}

/* "label:" then s, or "none" when s is empty or absent. */
static void print_optional(FILE *f, const char *name, const char *s)
{
	label(f, name);
	if (s == NULL || s[0] == '\0')
		fputs("none", f);
	else
		sbctl_put_safe(f, s);
	fputc('\n', f);
}

void sbctl_print_app(FILE *f, const json_t *app)
{
	const json_t *fields = json_object_get(app, "fields"), *fl;
	size_t i;

	label(f, "name:");
	sbctl_put_safe(f, jstr(app, "name"));
	fputc('\n', f);
	label(f, "type:");
	sbctl_put_safe(f, jstr(app, "type"));
	fputc('\n', f);
	label(f, "state:");
	fputs(state_word(app), f);
	fputc('\n', f);
	print_optional(f, "description:", jstr(app, "description"));
	print_optional(f, "contact:", jstr(app, "contact"));
	print_optional(f, "user group:", jstr(app, "user_group"));
	print_optional(f, "admin group:", jstr(app, "admin_group"));
	if (json_array_size(fields) > 0) {
		label(f, "fields:");
		json_array_foreach(fields, i, fl)
		{
			if (i > 0)
				fputs(", ", f);
			sbctl_put_safe(f, jstr(fl, "label"));
			if (json_is_true(json_object_get(fl, "masked")))
				fputs(" (masked)", f);
		}
		fputc('\n', f);
	}
	if (jstr(app, "created_at") != NULL) {
		label(f, "created at:");
		sbctl_put_safe(f, jstr(app, "created_at"));
		fputc('\n', f);
	}
	if (jstr(app, "updated_at") != NULL) {
		label(f, "updated at:");
		sbctl_put_safe(f, jstr(app, "updated_at"));
		fputc('\n', f);
	}
}

void sbctl_print_mappings(FILE *f, const json_t *reply)
{
	const json_t *maps = json_object_get(reply, "mappings"), *m;
	size_t i;
	int wa, wi;

	if (json_array_size(maps) == 0) {
		fputs(json_is_array(maps) ? "no credential mappings\n" : "?\n",
		      f);
		return;
	}
	wa = column_width(maps, "app", 3, 64);
	wi = column_width(maps, "identity", 8, 64);
	put_padded(f, "APP", wa + 2);
	put_padded(f, "IDENTITY", wi + 2);
	fputs("STATE     UPDATED\n", f);
	json_array_foreach(maps, i, m)
	{
		put_padded(f, jstr(m, "app"), wa + 2);
		put_padded(f, jstr(m, "identity"), wi + 2);
		put_padded(f, state_word(m), 10);
		sbctl_put_safe(f, jstr(m, "updated_at"));
		fputc('\n', f);
	}
}

void sbctl_print_values(FILE *f, const json_t *reply)
{
	const json_t *values = json_object_get(reply, "values"), *v;
	const char *k;
	int w = 0;

	fputs("application ", f);
	sbctl_put_safe(f, jstr(reply, "app"));
	fputs(", identity ", f);
	sbctl_put_safe(f, jstr(reply, "identity"));
	fputs(":\n", f);
	json_object_foreach((json_t *)values, k, v)
	{
		if ((int)strlen(k) > w)
			w = (int)strlen(k);
	}
	json_object_foreach((json_t *)values, k, v)
	{
		fputs("  ", f);
		sbctl_put_safe(f, k);
		fputc(':', f);
		for (int n = (int)strlen(k); n <= w; n++)
			fputc(' ', f);
		sbctl_put_safe(f,
			       json_is_string(v) ? json_string_value(v) : NULL);
		fputc('\n', f);
	}
}

void sbctl_print_config(FILE *f, const json_t *reply, const char *key)
{
	const json_t *values = json_object_get(reply, "values"), *v;
	const char *k;

	if (key != NULL) {
		v = json_object_get(values, key);
		sbctl_put_safe(f,
			       json_is_string(v) ? json_string_value(v) : NULL);
		fputc('\n', f);
		return;
	}
	json_object_foreach((json_t *)values, k, v)
	{
		sbctl_put_safe(f, k);
		fputc('=', f);
		sbctl_put_safe(f,
			       json_is_string(v) ? json_string_value(v) : NULL);
		fputc('\n', f);
	}
}

/* ---- health and cluster ---- */

/* Formats ms (not negative) as seconds with milliseconds: "1.234s". */
static const char *format_ms(long long ms, char *buf, size_t n)
{
	if (ms < 0)
		ms = 0;
	snprintf(buf, n, "%lld.%03llds", ms / 1000, ms % 1000);
	return buf;
}

/* Formats a wall-clock time in ms since the epoch as RFC 3339 UTC. */
static const char *format_wall_ms(long long ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "?");
	return buf;
}

/* ", self-fences in 1.234s unless renewed" for an active node whose
 * fencing plugin has a deadline (lease_left_ms >= 0; -1 means none). */
static void print_self_fence(FILE *f, const json_t *o)
{
	long long v;
	char ms[48];

	if (jint(o, "lease_left_ms", &v) && v >= 0)
		fprintf(f, ", self-fences in %s unless renewed",
			format_ms(v, ms, sizeof(ms)));
}

void sbctl_print_health(FILE *f, const json_t *h)
{
	const char *status = jstr(h, "status"), *role = jstr(h, "role");
	const json_t *reach = json_object_get(h, "mss_reachable");
	const char *storage = jstr(h, "storage");
	long long epoch = 0;
	int active = status != NULL && strcmp(status, "active") == 0;

	sbctl_put_safe(f, status);
	fputs(": ", f);
	sbctl_put_safe(f, jstr(h, "node"));
	if (active)
		fputs(" is the active master secret server", f);
	else if (status != NULL && strcmp(status, "standby") == 0)
		fputs(" is a standby master secret server", f);
	else if (status != NULL && strcmp(status, "member") == 0)
		fputs(" is a member node", f);
	else if (status != NULL && strcmp(status, "no_secret") == 0)
		fputs(" holds no master secret", f);
	fputs(" (role ", f);
	sbctl_put_safe(f, role);
	/* A standby's epoch is 0: only an active node's says something. */
	if (jint(h, "epoch", &epoch) && epoch > 0)
		fprintf(f, ", epoch %lld", epoch);
	if (active)
		print_self_fence(f, h);
	if (json_is_true(reach))
		fputs(", master secret server reachable", f);
	else if (json_is_false(reach))
		fputs(", CANNOT reach the master secret server: lookups only",
		      f);
	/* Only the bad news: "ok" and "unknown" say nothing to act on. */
	if (storage != NULL && strcmp(storage, "unreachable") == 0)
		fputs(", SSO database UNREACHABLE", f);
	fputs(")\n", f);
}

/* "this node: NODE (ROLE), STATE, epoch N, self-fences in ..." and the
 * fencing plugin with its own words. */
static void print_cluster_self(FILE *f, const json_t *c)
{
	const char *state = jstr(c, "state"), *plugin = jstr(c, "fencing");
	const char *detail = jstr(c, "detail");
	long long v;

	label(f, "this node:");
	sbctl_put_safe(f, jstr(c, "node"));
	fputs(" (", f);
	sbctl_put_safe(f, jstr(c, "role"));
	fputs("), ", f);
	sbctl_put_safe(f, state);
	if (jint(c, "epoch", &v) && v > 0)
		fprintf(f, ", epoch %lld", v);
	if (state != NULL && strcmp(state, "active") == 0)
		print_self_fence(f, c);
	fputc('\n', f);
	/* A member takes no part in fencing: the daemon sends "". */
	if (plugin != NULL && plugin[0] != '\0') {
		label(f, "fencing:");
		sbctl_put_safe(f, plugin);
		if (detail != NULL && detail[0] != '\0') {
			fputs(" (", f);
			sbctl_put_safe(f, detail);
			fputc(')', f);
		}
		fputc('\n', f);
	}
}

/* The MSS record of the SSO database, and a warning when this node
 * believes it is active but the record names another node or epoch (a
 * deposed node that has not stepped down yet, or a record being written). */
static void print_cluster_mss(FILE *f, const json_t *c, long long now_ms)
{
	const json_t *mss = json_object_get(c, "active_mss");
	const char *node = jstr(mss, "node"), *addr = jstr(mss, "address");
	const char *self = jstr(c, "node"), *state = jstr(c, "state");
	long long epoch = -1, since, self_epoch = -1;
	char when[40], dur[64];

	label(f, "active MSS:");
	if (!json_is_object(mss)) {
		fputs(json_is_null(mss) ? "none recorded: no node has become "
					  "active yet\n"
					: "?\n",
		      f);
		return;
	}
	sbctl_put_safe(f, node);
	if (addr != NULL && addr[0] != '\0') {
		fputs(" at ", f);
		sbctl_put_safe(f, addr);
	} else {
		fputs(" (no [cluster] address)", f);
	}
	if (jint(mss, "epoch", &epoch))
		fprintf(f, ", epoch %lld", epoch);
	if (jint(mss, "since_ms", &since)) {
		fprintf(f, ", since %s",
			format_wall_ms(since, when, sizeof(when)));
		if (now_ms >= since)
			fprintf(f, " (%s ago)",
				sbctl_format_duration((now_ms - since) / 1000,
						      dur, sizeof(dur)));
	}
	if (node != NULL && self != NULL && strcmp(node, self) == 0)
		fputs(" (this node)", f);
	fputc('\n', f);
	if (state != NULL && strcmp(state, "active") == 0 &&
	    jint(c, "epoch", &self_epoch) &&
	    (node == NULL || self == NULL || strcmp(node, self) != 0 ||
	     epoch != self_epoch)) {
		fprintf(f,
			"WARNING: this node is active at epoch %lld but the "
			"SSO database records ",
			self_epoch);
		sbctl_put_safe(f, node);
		fprintf(f, " at epoch %lld\n", epoch);
	}
}

/* The lease row of the storage: free, held (with the time left, or no
 * expiry when taken by designation), or expired. */
static void print_cluster_lease(FILE *f, const json_t *c)
{
	const json_t *lease = json_object_get(c, "lease");
	const char *holder = jstr(lease, "holder");
	long long epoch = 0, ttl = 0;
	char ms[48];

	label(f, "lease:");
	if (!json_is_object(lease)) {
		fputs("?\n", f);
		return;
	}
	(void)jint(lease, "epoch", &epoch);
	(void)jint(lease, "ttl_left_ms", &ttl);
	if (holder == NULL || holder[0] == '\0') {
		fputs("free", f);
		if (epoch > 0)
			fprintf(f, " (last epoch issued: %lld)", epoch);
	} else if (json_is_true(json_object_get(lease, "held"))) {
		fputs("held by ", f);
		sbctl_put_safe(f, holder);
		fprintf(f, ", epoch %lld, ", epoch);
		/* fence_takeover with no expiry (manual designation, a
		 * cluster manager): the storage plugins report INT64_MAX. */
		if (ttl == INT64_MAX)
			fputs("no expiry (taken by designation)", f);
		else
			fprintf(f, "%s left", format_ms(ttl, ms, sizeof(ms)));
	} else {
		fprintf(f, "expired %s ago, last held by ",
			format_ms(ttl < 0 ? -ttl : 0, ms, sizeof(ms)));
		sbctl_put_safe(f, holder);
		fprintf(f, " at epoch %lld", epoch);
	}
	fputc('\n', f);
}

enum {
	NODE_COL_NAME,
	NODE_COL_ROLE,
	NODE_COL_STATE,
	NODE_COL_EPOCH,
	NODE_COL_ADDRESS,
	NODE_COL_VERSION,
	NODE_COL_SEEN,
	NODE_NCOLS
};

static const char *const node_headers[NODE_NCOLS] = {
	"NODE", "ROLE", "STATE", "EPOCH", "ADDRESS", "VERSION", "LAST SEEN"};

/* How long ago node n reported in, in ms: the daemon's seen_ago_ms, else
 * computed from last_seen_ms. Returns 0 when neither is there. */
static int node_seen_ago(const json_t *n, long long now_ms, long long *ago)
{
	long long last;

	if (!jint(n, "seen_ago_ms", ago)) {
		if (!jint(n, "last_seen_ms", &last))
			return 0;
		*ago = now_ms - last;
	}
	/* Another node's clock may run ahead of this one's. */
	if (*ago < 0)
		*ago = 0;
	return 1;
}

/* Writes the text of column col for node n into buf (raw: escaped when
 * printed). mss_epoch is the epoch of the MSS record (-1: none): a node
 * whose last report says active at an older epoch has been superseded
 * since (it steps down, or has, and has not reported in again yet). */
static void node_cell(const json_t *n, int col, long long now_ms,
		      long long mss_epoch, char *buf, size_t len)
{
	static const char *const keys[NODE_NCOLS] = {
		"node", "role", "state", NULL, "address", "version", NULL};
	const char *s;
	long long v;
	char dur[64];
	int superseded;

	switch (col) {
	case NODE_COL_EPOCH:
		if (jint(n, "epoch", &v))
			snprintf(buf, len, "%lld", v);
		else
			snprintf(buf, len, "?");
		return;
	case NODE_COL_STATE:
		s = jstr(n, "state");
		superseded = s != NULL && strcmp(s, "active") == 0 &&
			     jint(n, "epoch", &v) && v < mss_epoch;
		snprintf(buf, len, "%s%s", s ? s : "?",
			 superseded ? " (superseded)" : "");
		return;
	case NODE_COL_SEEN:
		if (!node_seen_ago(n, now_ms, &v))
			snprintf(buf, len, "?");
		else
			snprintf(buf, len, "%s ago%s",
				 sbctl_format_duration(v / 1000, dur,
						       sizeof(dur)),
				 v > SBCTL_CLUSTER_STALE_MS ? " (stale)" : "");
		return;
	default:
		s = jstr(n, keys[col]);
		if (s == NULL)
			s = "?";
		else if (s[0] == '\0')
			s = "-";
		snprintf(buf, len, "%s", s);
	}
}

/* "nodes: N reported in[, M stale]" and the table, columns as wide as
 * their widest cell. */
static void print_cluster_nodes(FILE *f, const json_t *c, long long now_ms)
{
	const json_t *nodes = json_object_get(c, "nodes"), *n;
	int width[NODE_NCOLS];
	size_t i, stale = 0;
	char cell[320];
	long long ago, mss_epoch = -1;

	if (!jint(json_object_get(c, "active_mss"), "epoch", &mss_epoch))
		mss_epoch = -1;

	label(f, "nodes:");
	if (!json_is_array(nodes)) {
		fputs("?\n", f);
		return;
	}
	if (json_array_size(nodes) == 0) {
		fputs("none has reported in\n", f);
		return;
	}
	for (int k = 0; k < NODE_NCOLS; k++)
		width[k] = display_width(node_headers[k]);
	json_array_foreach(nodes, i, n)
	{
		if (node_seen_ago(n, now_ms, &ago) &&
		    ago > SBCTL_CLUSTER_STALE_MS)
			stale++;
		for (int k = 0; k < NODE_NCOLS; k++) {
			node_cell(n, k, now_ms, mss_epoch, cell, sizeof(cell));
			if (display_width(cell) > width[k])
				width[k] = display_width(cell);
		}
	}
	fprintf(f, "%zu reported in", json_array_size(nodes));
	if (stale > 0)
		fprintf(f, ", %zu stale (not seen for over %ds)", stale,
			SBCTL_CLUSTER_STALE_MS / 1000);
	fputs("\n\n", f);
	for (int k = 0; k < NODE_NCOLS; k++) {
		if (k == NODE_NCOLS - 1)
			fputs(node_headers[k], f);
		else
			put_padded(f, node_headers[k], width[k] + 2);
	}
	fputc('\n', f);
	json_array_foreach(nodes, i, n)
	{
		for (int k = 0; k < NODE_NCOLS; k++) {
			node_cell(n, k, now_ms, mss_epoch, cell, sizeof(cell));
			/* No padding after the last word of a line. */
			if (k == NODE_NCOLS - 1)
				sbctl_put_safe(f, cell);
			else
				put_padded(f, cell, width[k] + 2);
		}
		fputc('\n', f);
	}
}

void sbctl_print_cluster(FILE *f, const json_t *c, long long now_ms)
{
	print_cluster_self(f, c);
	print_cluster_mss(f, c, now_ms);
	print_cluster_lease(f, c);
	print_cluster_nodes(f, c, now_ms);
}
