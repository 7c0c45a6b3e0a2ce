/* A member node fetches the master secrets from the MSS: see
 * member_fetch.h. */
#define _GNU_SOURCE
#include "cluster/member_fetch.h"

#include "runtime/secure_mem.h"
#include "runtime/tls.h"
#include "secret/secret_codec.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_PATH "/v1/cluster/secret"

/* The answer, received into locked memory. */
struct answer {
	char *buf; /* SB_MEMBER_FETCH_MAX_BODY + 1 bytes, secure memory */
	size_t len;
	int too_big;
};

static size_t answer_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb;

	if (n > SB_MEMBER_FETCH_MAX_BODY - a->len) {
		a->too_big = 1;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
	a->buf[a->len] = '\0';
	return n;
}

/* Copies s into dst for a message, replacing anything but printable ASCII
 * (the server's words are not trusted to be clean) and cutting at max
 * characters. */
static void clean_copy(char *dst, size_t dstlen, const char *s, size_t max)
{
	size_t i;

	if (dstlen == 0)
		return;
	for (i = 0; s && s[i] && i < max && i + 1 < dstlen; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[i] = '\0';
}

/* Checks that addr is HOST:PORT or [IPV6]:PORT made of characters a host
 * name or address may hold, so it cannot smuggle a path, user info or a
 * second URL into the request. Returns 0 or -1 with msg. */
static int check_addr(const char *addr, char *msg, size_t msglen)
{
	const char *colon;
	size_t i;

	if (addr == NULL || addr[0] == '\0') {
		snprintf(msg, msglen,
			 "no MSS address to fetch the secret from");
		return -1;
	}
	for (i = 0; addr[i]; i++) {
		char c = addr[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_' || c == ':' || c == '[' || c == ']'))
			break;
	}
	colon = strrchr(addr, ':');
	if (addr[i] != '\0' || i > 300 || colon == NULL || colon == addr ||
	    colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    (addr[0] == '[' && colon[-1] != ']')) {
		char shown[80];

		clean_copy(shown, sizeof(shown), addr, 64);
		snprintf(msg, msglen,
			 "MSS address '%s' is not HOST:PORT or [IPV6]:PORT",
			 shown);
		return -1;
	}
	return 0;
}

/* Checks that a file the member needs can be opened, for a message that
 * names it (curl's own says less). */
static int check_file(const char *what, const char *path, char *msg,
		      size_t msglen)
{
	struct stat st;
	int fd;

	if (path == NULL || path[0] == '\0') {
		snprintf(msg, msglen, "no member %s file is configured", what);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(msg, msglen, "member %s %s: cannot open: %s", what,
			 path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "member %s %s: not a regular file", what,
			 path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Explains a failed transfer. errbuf is curl's detailed message. */
static void transfer_error(CURL *c, CURLcode rc, const char *errbuf,
			   const struct answer *a, const char *addr,
			   const struct sb_member_tls *tls, long timeout_ms,
			   char *msg, size_t msglen)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	long os_errno = 0;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(msg, msglen, "cannot resolve the MSS host of %s: %s",
			 addr, detail);
		break;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
		snprintf(msg, msglen, "cannot connect to the MSS at %s: %s",
			 addr, os_errno ? strerror((int)os_errno) : detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(msg, msglen,
			 "no answer from the MSS at %s within %ld ms (%s)",
			 addr, timeout_ms, detail);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		/* curl's words carry OpenSSL's reason for the chain ("SSL
		 * certificate problem: unable to get local issuer
		 * certificate") and its own for the name ("no alternative
		 * certificate subject name matches target host name"). */
		snprintf(msg, msglen,
			 "TLS verification of the MSS at %s against CA %s "
			 "failed: %s",
			 addr, tls->ca_file, detail);
		break;
	case CURLE_SSL_CERTPROBLEM:
		snprintf(msg, msglen,
			 "cannot use this node's client certificate %s with "
			 "key %s: %s",
			 tls->cert_file ? tls->cert_file : "(none)",
			 tls->key_file ? tls->key_file : "(none)", detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		/* A TLS alert from the server during or right after the
		 * handshake (TLS 1.3 verifies the client certificate after
		 * the client has finished) is its verdict on our
		 * certificate: "certificate required", "unknown ca", "bad
		 * certificate", "certificate expired"... */
		if (strstr(detail, "alert"))
			snprintf(msg, msglen,
				 "the MSS at %s refused this node's %s: %s",
				 addr,
				 tls->cert_file ? "client certificate"
						: "connection without a client "
						  "certificate",
				 detail);
		else
			snprintf(msg, msglen,
				 "TLS connection to the MSS at %s failed: %s",
				 addr, detail);
		break;
	case CURLE_WRITE_ERROR:
		if (a->too_big) {
			snprintf(msg, msglen,
				 "malformed answer from the MSS at %s: larger "
				 "than %d bytes",
				 addr, SB_MEMBER_FETCH_MAX_BODY);
			break;
		}
		/* fall through */
	default:
		snprintf(msg, msglen,
			 "request to the MSS at %s failed: %s (%s)", addr,
			 curl_easy_strerror(rc), detail);
		break;
	}
}

/* Explains an HTTP status other than 200 from the API's error body. The
 * body of an error never holds key material. */
static void status_error(long status, const struct answer *a, const char *addr,
			 char *msg, size_t msglen)
{
	json_t *root = json_loadb(a->buf, a->len, 0, NULL);
	json_t *err = root ? json_object_get(root, "error") : NULL;
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *text = json_string_value(json_object_get(err, "message"));
	char c[80], t[400];

	if (code && text) {
		clean_copy(c, sizeof(c), code, 64);
		clean_copy(t, sizeof(t), text, 380);
		snprintf(msg, msglen, "the MSS at %s answered HTTP %ld %s: %s",
			 addr, status, c, t);
	} else {
		clean_copy(t, sizeof(t), a->buf, 120);
		snprintf(msg, msglen,
			 "the MSS at %s answered HTTP %ld without an API error "
			 "body%s%s%s",
			 addr, status, t[0] ? " ('" : "", t, t[0] ? "')" : "");
	}
	json_decref(root);
}

/* Parses a 200 answer into *secrets, new secure memory of exactly *n
 * entries (the codec of secret/secret_codec.h checks every field). Returns
 * 0 or -1 with msg, which never quotes the answer. */
static int parse_answer(const struct answer *a, const char *addr,
			struct sb_backup_secret **secrets, size_t *n, char *msg,
			size_t msglen)
{
	int ret = -1;
	json_t *root;
	json_error_t jerr;
	struct sb_backup_secret *tmp = NULL;
	struct sb_error err = {{0}};
	size_t count = 0;

	root = json_loadb(a->buf, a->len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* jerr.text quotes the input near the error, which may be
		 * key material: say only where. */
		snprintf(msg, msglen,
			 "malformed answer from the MSS at %s: not valid JSON "
			 "(at line %d, column %d)",
			 addr, jerr.line, jerr.column);
		goto done;
	}
	tmp = sb_secure_alloc(SB_SECRETS_MAX * sizeof(*tmp));
	if (tmp == NULL) {
		snprintf(msg, msglen,
			 "cannot allocate locked memory for the secrets from "
			 "%s: %s",
			 addr, strerror(errno));
		goto done;
	}
	if (sb_secret_list_from_json(json_object_get(root, "secrets"), tmp,
				     &count, &err) != 0) {
		snprintf(msg, msglen, "malformed answer from the MSS at %s: %s",
			 addr, err.msg);
		goto done;
	}
	*secrets = sb_secret_list_copy(tmp, count);
	if (*secrets == NULL) {
		snprintf(msg, msglen,
			 "cannot allocate locked memory for the secrets from "
			 "%s: %s",
			 addr, strerror(errno));
		goto done;
	}
	*n = count;
	ret = 0;
done:
	if (tmp)
		sb_secure_free(tmp, SB_SECRETS_MAX * sizeof(*tmp));
	json_decref(root); /* the daemon's jansson free wipes */
	return ret;
}

int sb_member_fetch_secrets(const char *addr, const struct sb_member_tls *tls,
			    long timeout_ms, struct sb_backup_secret **secrets,
			    size_t *n, char *msg, size_t msglen)
{
	int ret = -1;
	CURL *c = NULL;
	CURLcode rc;
	struct curl_slist *hdrs = NULL;
	struct answer a = {0};
	char *key_pem = NULL;
	size_t key_len = 0, key_size = 0;
	char url[400];
	char errbuf[CURL_ERROR_SIZE];
	long status = 0;

	*secrets = NULL;
	*n = 0;
	errbuf[0] = '\0';
	if (check_addr(addr, msg, msglen) != 0)
		goto done;
	if (timeout_ms <= 0) {
		snprintf(
			msg, msglen,
			"fetching the secret from %s: timeout must be positive",
			addr);
		goto done;
	}
	if ((tls->cert_file == NULL) != (tls->key_file == NULL)) {
		snprintf(msg, msglen,
			 "a member's client certificate and key go together "
			 "(certificate %s, key %s)",
			 tls->cert_file ? tls->cert_file : "(none)",
			 tls->key_file ? tls->key_file : "(none)");
		goto done;
	}
	if (check_file("TLS CA file", tls->ca_file, msg, msglen) != 0)
		goto done;
	if (tls->cert_file &&
	    (check_file("TLS certificate", tls->cert_file, msg, msglen) != 0 ||
	     sb_tls_read_key_file("member TLS key", tls->key_file, &key_pem,
				  &key_len, &key_size, msg, msglen) != 0))
		goto done;
	a.buf = sb_secure_alloc(SB_MEMBER_FETCH_MAX_BODY + 1);
	if (a.buf == NULL) {
		snprintf(msg, msglen,
			 "cannot allocate locked memory for the answer from "
			 "%s: %s",
			 addr, strerror(errno));
		goto done;
	}
	snprintf(url, sizeof(url), "https://%s" SECRET_PATH, addr);

	c = curl_easy_init();
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (c == NULL || hdrs == NULL) {
		snprintf(msg, msglen,
			 "fetching the secret from %s: out of memory", addr);
		goto done;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	/* The secret goes to the MSS named and nowhere else: no proxy from
	 * the environment, no redirect. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "secretbroker-member");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, answer_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	/* Only the cluster's CA: not the system's trust store. */
	curl_easy_setopt(c, CURLOPT_CAINFO, tls->ca_file);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	if (tls->cert_file) {
		/* The key's text stays in our locked memory: curl parses it
		 * from there without a copy. */
		struct curl_blob key = {.data = key_pem,
					.len = key_len,
					.flags = CURL_BLOB_NOCOPY};

		curl_easy_setopt(c, CURLOPT_SSLCERT, tls->cert_file);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}

	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		transfer_error(c, rc, errbuf, &a, addr, tls, timeout_ms, msg,
			       msglen);
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		status_error(status, &a, addr, msg, msglen);
		goto done;
	}
	if (parse_answer(&a, addr, secrets, n, msg, msglen) != 0)
		goto done;
	ret = 0;
done:
	if (c)
		curl_easy_cleanup(c); /* before the key it borrows goes */
	curl_slist_free_all(hdrs);
	if (a.buf)
		sb_secure_free(a.buf, SB_MEMBER_FETCH_MAX_BODY + 1);
	if (key_pem)
		sb_secure_free(key_pem, key_size);
	return ret;
}
