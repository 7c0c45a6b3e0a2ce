/*
 * The import format: the file sbctl app import reads (client/sbctl_store.c
 * turns it into the body of POST /v1/apps/import), then each application
 * as the daemon checks it (sb_app_record_from_request, core/api/records.c).
 * A record the daemon accepts must parse back as a stored application with
 * the same name.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include "api/records.h"
#include "sbctl_store.h"

#include <jansson.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	struct sb_api_error e;
	json_t *body, *apps, *b;
	size_t i;

	body = sbctl_import_body((const char *)data, size, "fuzz.json", err,
				 sizeof(err));
	if (body == NULL) {
		if (err[0] == '\0')
			fuzz_fail("import refused without a message");
		return 0;
	}
	apps = json_object_get(body, "apps");
	if (!json_is_array(apps))
		fuzz_fail("import body without an \"apps\" array");
	json_array_foreach(apps, i, b)
	{
		json_t *rec =
			sb_app_record_from_request(b, 1767225600000ull, &e);
		struct sb_app app;
		char *text;

		if (rec == NULL)
			continue;
		text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
		if (text == NULL)
			fuzz_fail("cannot serialise an accepted record");
		if (sb_app_parse((const uint8_t *)text, strlen(text), &app) !=
		    0)
			fuzz_fail("an accepted application does not parse "
				  "back: %s",
				  text);
		if (strcmp(app.name, json_string_value(json_object_get(
					     rec, "name"))) != 0)
			fuzz_fail("the name changed on the way: %s", text);
		json_decref(sb_app_view(app.json));
		sb_app_clear(&app);
		free(text);
		json_decref(rec);
	}
	json_decref(body);
	return 0;
}
