/* Human-readable output for sbctl: see sbctl_output.h. */
#include "sbctl_output.h"

#include <string.h>

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

	label(f, "plugins:");
	if (!json_is_array(plugins) || json_array_size(plugins) == 0) {
		fputs(json_is_array(plugins) ? "none\n" : "?\n", f);
		return;
	}
	json_array_foreach(plugins, i, p)
	{
		const char *path = jstr(p, "path");

		if (i > 0)
			indent(f);
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
		fputc('\n', f);
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
	/* The daemon's own words for what needs doing. */
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
static int column_width(const json_t *arr, const char *key, int min, int max)
{
	size_t i;
	const json_t *o;
	int w = min;

	json_array_foreach(arr, i, o)
	{
		const char *s = jstr(o, key);
		int n = s ? (int)strlen(s) : 1;

		if (n > w)
			w = n;
	}
	return w > max ? max : w;
}

/* Prints s (NULL: "?") and pads it with spaces to width columns. */
static void put_padded(FILE *f, const char *s, int width)
{
	int n = s ? (int)strlen(s) : 1;

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
