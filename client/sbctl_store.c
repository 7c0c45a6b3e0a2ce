/* Local parsing for the credential-store commands: see sbctl_store.h. */
#define _GNU_SOURCE
#include "sbctl_store.h"

#include <secretbroker/client.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A --fields entry is a label and an optional ":masked"; nothing else
 * follows the colon. */
#define MASKED_SUFFIX ":masked"

json_t *sbctl_fields_parse(const char *list, char *err, size_t errlen)
{
	json_t *fields = NULL, *ret = NULL;
	char *copy = NULL, *entry, *save = NULL;

	if (list == NULL || list[0] == '\0') {
		snprintf(err, errlen,
			 "--fields needs a list such as user,password:masked");
		goto done;
	}
	/* strtok_r would skip empty entries; an empty one is a typo to
	 * report. */
	if (list[0] == ',' || list[strlen(list) - 1] == ',' ||
	    strstr(list, ",,") != NULL) {
		snprintf(err, errlen, "--fields has an empty entry in \"%s\"",
			 list);
		goto done;
	}
	if ((copy = strdup(list)) == NULL || (fields = json_array()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (entry = strtok_r(copy, ",", &save); entry != NULL;
	     entry = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(entry, ':');
		int masked = 0;
		size_t i;
		json_t *f;

		if (colon != NULL) {
			if (strcmp(colon, MASKED_SUFFIX) != 0) {
				snprintf(err, errlen,
					 "--fields entry \"%s\": only "
					 "\":masked\" may follow a label",
					 entry);
				goto done;
			}
			*colon = '\0';
			masked = 1;
		}
		if (!sb_client_valid_name(entry)) {
			snprintf(err, errlen,
				 "--fields entry \"%s\" is not a label (1..64 "
				 "characters of A-Z a-z 0-9 . _ -)",
				 entry);
			goto done;
		}
		json_array_foreach(fields, i, f)
		{
			if (strcmp(json_string_value(
					   json_object_get(f, "label")),
				   entry) == 0) {
				snprintf(err, errlen,
					 "--fields names \"%s\" twice", entry);
				goto done;
			}
		}
		if (json_array_append_new(
			    fields, json_pack("{s:s, s:b}", "label", entry,
					      "masked", masked)) == -1) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
	}
	ret = fields;
	fields = NULL;
done:
	json_decref(fields);
	free(copy);
	return ret;
}

json_t *sbctl_pairs_parse(char *const *args, int n, char *err, size_t errlen)
{
	json_t *obj = json_object(), *ret = NULL;
	char key[80];

	if (obj == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		size_t klen = eq ? (size_t)(eq - args[i]) : 0;

		if (eq == NULL) {
			/* Without '=' the whole argument may be a value the
			 * user meant to pair: do not echo it. */
			snprintf(err, errlen,
				 "argument %d is not KEY=VALUE (no '=')",
				 i + 1);
			goto done;
		}
		if (klen == 0 || klen >= sizeof(key)) {
			snprintf(err, errlen,
				 "argument %d has %s key before its '='", i + 1,
				 klen == 0 ? "an empty" : "too long a");
			goto done;
		}
		memcpy(key, args[i], klen);
		key[klen] = '\0';
		if (!sb_client_valid_name(key)) {
			snprintf(err, errlen,
				 "argument %d: \"%s\" is not a config key "
				 "(1..64 characters of A-Z a-z 0-9 . _ -)",
				 i + 1, key);
			goto done;
		}
		if (json_object_get(obj, key) != NULL) {
			snprintf(err, errlen, "key \"%s\" is given twice", key);
			goto done;
		}
		if (json_object_set_new(obj, key, json_string(eq + 1)) == -1) {
			snprintf(err, errlen,
				 "the value of \"%s\" is not valid UTF-8", key);
			goto done;
		}
	}
	ret = obj;
	obj = NULL;
done:
	json_decref(obj);
	return ret;
}

json_t *sbctl_import_body(const char *data, size_t len, const char *path,
			  char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc, *apps, *ret = NULL;

	doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		snprintf(err, errlen,
			 "%s is not valid JSON: %s at line %d "
			 "column %d",
			 path, jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	if (json_is_array(doc))
		apps = doc;
	else
		apps = json_object_get(doc, "apps");
	if (!json_is_array(apps)) {
		snprintf(err, errlen,
			 "%s holds neither {\"apps\": [...]} nor an array of "
			 "applications",
			 path);
		goto done;
	}
	if (json_array_size(apps) == 0) {
		snprintf(err, errlen, "%s defines no application", path);
		goto done;
	}
	if ((ret = json_pack("{s:O}", "apps", apps)) == NULL)
		snprintf(err, errlen, "out of memory");
done:
	json_decref(doc);
	return ret;
}

json_t *sbctl_values_parse(const char *data, size_t len, const char *what,
			   char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *obj, *v;
	const char *k;

	obj = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		snprintf(err, errlen,
			 "%s on standard input are not valid JSON (error at "
			 "line %d, column %d)",
			 what, jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(obj) || json_object_size(obj) == 0) {
		snprintf(err, errlen,
			 "%s on standard input must be one JSON object of "
			 "string values, e.g. {\"user\": \"bob\"}",
			 what);
		goto fail;
	}
	json_object_foreach(obj, k, v)
	{
		if (!json_is_string(v)) {
			snprintf(err, errlen,
				 "%s on standard input: the value of \"%.64s\" "
				 "is not a string",
				 what, k);
			goto fail;
		}
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}
