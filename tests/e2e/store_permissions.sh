#!/usr/bin/env bash
# The credential store's whole permission matrix (issue 3, acceptance 2):
# every role against every operation, with sbctl run as a real user of
# each role, against the real daemon. Each cell is "ok" (allowed, and its
# effect checked through the API as root) or "403" (refused with code
# forbidden by sbctl, the same request on the raw API answering HTTP 403
# with code forbidden, and no effect). The expected cells follow the role
# rules of the API (docs/api.md, "Credential store"). The matrix is
# printed; a single wrong cell fails the test.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/store_lib.sh"

ADMG=sbtest_p_adm # the applications' administrators
USRG=sbtest_p_usr # the applications' users
for g in sbtest_ssoadm sbtest_affadm $ADMG $USRG; do
	ensure_group $g || exit 1
done
ensure_user sbtest_sso sbtest_ssoadm || exit 1
ensure_user sbtest_aff sbtest_affadm || exit 1
ensure_user sbtest_padm $ADMG || exit 1
ensure_user sbtest_pu1 $USRG || exit 1
ensure_user sbtest_pu2 $USRG || exit 1
ensure_user sbtest_pnob || exit 1

# The roles, in the matrix's column order.
ROLES=(root sbtest_sso sbtest_aff sbtest_padm sbtest_pu1 sbtest_pu2 sbtest_pnob)
SHORT=(root sso aff appadm self other unrel)
# The identity whose mapping the mapping operations act on: the "self"
# user's. "Other" credentials are T's, and for T itself the other user's.
T=sbtest_pu1

TMP=$(make_tmpdir)
A=$TMP/node
broker_config "$A" "
[access]
sso_admins = sbtest_ssoadm
sso_affiliate_admins = sbtest_affadm"
broker_start "$A" || exit 1
as root secret generate >/dev/null || exit 1

# ---- root's view and fixture, through the raw API (fast, no sbctl) ----

root_api() { api "$A" "$@"; } # prints "STATUS BODY"

must() { # root_api args...: fails the whole test when not 2xx
	local r
	r=$(root_api "$@")
	case "$r" in
	2??\ *) ;;
	*) echo "fixture request $* failed: $r" >&2; exit 1 ;;
	esac
}

app_state() { # NAME: none | enabled | disabled
	local r
	r=$(root_api GET "/v1/apps/$1")
	case "${r%% *}" in
	404) echo none ;;
	200) [ "$(echo "${r#* }" | jq -r .enabled)" = true ] &&
		echo enabled || echo disabled ;;
	*) echo "error:$r" ;;
	esac
}

map_state() { # APP IDENTITY: none | enabled | disabled
	local r
	r=$(root_api GET "/v1/apps/$1/mappings/$2")
	case "${r%% *}" in
	404) echo none ;;
	200) [ "$(echo "${r#* }" | jq -r .enabled)" = true ] &&
		echo enabled || echo disabled ;;
	*) echo "error:$r" ;;
	esac
}

map_password() { # APP IDENTITY: the stored password, in clear
	root_api GET "/v1/apps/$1/mappings/$2?show_masked=1" |
		cut -d' ' -f2- | jq -r .values.password
}

cfg_has() { # APP ID KEY: yes | no
	local r
	r=$(root_api GET "/v1/apps/$1/config/$2?key=$3")
	[ "${r%% *}" = 200 ] && echo yes || echo no
}

creds_json() { # IDENTITY PASSWORD
	printf '{"user": "ext_%s", "password": "%s"}' "$1" "$2"
}

set_map() { # IDENTITY PASSWORD: root sets T's-style mapping in pm
	must PUT "/v1/apps/pm/mappings/$1" "{\"values\": $(creds_json "$1" "$2")}"
}

new_app() { # NAME TYPE [FIELDS-JSON]
	local fields=${3:-'[{"label": "user"}, {"label": "password", "masked": true}]'}
	[ "$2" = config-store ] && fields='[]'
	must POST /v1/apps "{\"name\": \"$1\", \"type\": \"$2\", \"fields\": $fields, \"user_group\": \"$USRG\", \"admin_group\": \"$ADMG\"}"
}

new_app pm individual
must PATCH /v1/apps/pm '{"enabled": true}'
new_app pc config-store
must PATCH /v1/apps/pc '{"enabled": true}'
must PUT /v1/apps/pc/config/default '{"values": {"k1": "v1"}}'
new_app ptog individual
declare -A PW
for i in "${!ROLES[@]}"; do
	u=${ROLES[$i]}
	new_app "pdel_${SHORT[$i]}" individual
	PW[$u]=pw0_$u
	set_map "$u" "${PW[$u]}"
	cat >"$TMP/imp_${SHORT[$i]}.json" <<EOF
{"apps": [{"name": "pimp_${SHORT[$i]}", "type": "config-store", "user_group": "$USRG"}]}
EOF
	chmod 644 "$TMP/imp_${SHORT[$i]}.json"
done

# ---- classifying outcomes ----

# After `run`: ok, 403 (refused, code forbidden), or what else happened.
sbtok() {
	if [ "$RC" -eq 0 ]; then
		TOK=ok
	elif [ "$RC" -eq 1 ] && [[ "$OUT" == *"(forbidden)" ]]; then
		TOK=403
	else
		TOK="exit $RC: ${OUT%%$'\n'*}"
	fi
}

# rawtok USER METHOD PATH [BODY]: the raw API's answer: 403 (HTTP 403,
# code forbidden), ok (2xx), or the status and code.
rawtok() {
	local r
	r=$(raw_as "$@")
	case "$r" in
	"403 forbidden") TOK=403 ;;
	2??\ *) TOK=ok ;;
	*) TOK="raw $r" ;;
	esac
}

# effect WANTED GOT: the state after the operation agrees with TOK: an
# allowed one has its effect (GOT is WANTED), a refused one none.
effect() {
	if [ "$TOK" = ok ] && [ "$2" != "$1" ]; then
		TOK="ok, but $2"
	elif [ "$TOK" = 403 ] && [ "$2" = "$1" ]; then
		TOK="403, but $2"
	fi
}

# content NEEDLE: an allowed read shows what it should.
content() {
	if [ "$TOK" = ok ] && [[ "$OUT" != *"$1"* ]]; then
		TOK="ok, without '$1'"
	fi
}

other_of() { [ "$1" = $T ] && echo sbtest_pu2 || echo $T; }

# ---- the operations: op_NAME USER SHORT MODE sets TOK ----
# MODE sbctl runs sbctl as USER; MODE raw sends the same request on the
# raw API (only for cells expected to be refused, so it has no effect).

op_app_create() {
	local n=pnew_$2
	if [ "$3" = raw ]; then
		rawtok "$1" POST /v1/apps "{\"name\": \"$n\", \"type\": \"individual\", \"fields\": [{\"label\": \"u\"}], \"user_group\": \"$USRG\"}"
		return
	fi
	run "$1" app create "$n" --type individual --fields u --user-group $USRG
	sbtok
	effect disabled "$(app_state "$n")"
}

op_app_list() {
	run "$1" app list
	sbtok
	if [ "$TOK" = ok ]; then
		if grep -q '^pm ' <<<"$OUT"; then TOK=sees; else TOK=hidden; fi
	fi
}

op_app_show() {
	if [ "$3" = raw ]; then rawtok "$1" GET /v1/apps/pm; return; fi
	run "$1" app show pm
	sbtok
	content "user group:    $USRG"
}

op_app_update() {
	if [ "$3" = raw ]; then
		rawtok "$1" PATCH /v1/apps/pm '{"description": "raw"}'
		return
	fi
	run "$1" app update pm --description "set by $2"
	sbtok
	effect "set by $2" "$(root_api GET /v1/apps/pm | cut -d' ' -f2- | jq -r .description)"
}

op_app_enable() {
	must PATCH /v1/apps/ptog '{"enabled": false}'
	if [ "$3" = raw ]; then
		rawtok "$1" PATCH /v1/apps/ptog '{"enabled": true}'
		return
	fi
	run "$1" app enable ptog
	sbtok
	effect enabled "$(app_state ptog)"
}

op_app_disable() {
	must PATCH /v1/apps/ptog '{"enabled": true}'
	if [ "$3" = raw ]; then
		rawtok "$1" PATCH /v1/apps/ptog '{"enabled": false}'
		return
	fi
	run "$1" app disable ptog
	sbtok
	effect disabled "$(app_state ptog)"
}

op_app_delete() {
	if [ "$3" = raw ]; then rawtok "$1" DELETE "/v1/apps/pdel_$2"; return; fi
	run "$1" app delete "pdel_$2" --yes
	sbtok
	effect none "$(app_state "pdel_$2")"
}

op_app_import() {
	if [ "$3" = raw ]; then
		rawtok "$1" POST /v1/apps/import "$(cat "$TMP/imp_$2.json")"
		return
	fi
	run "$1" app import "$TMP/imp_$2.json"
	sbtok
	effect disabled "$(app_state "pimp_$2")"
}

op_cred_set_self() {
	local pw=pwS_$1
	if [ "$3" = raw ]; then
		rawtok "$1" PUT "/v1/apps/pm/mappings/$1" "{\"values\": $(creds_json "$1" "$pw")}"
		return
	fi
	run "$1" cred set pm --stdin <<<"$(creds_json "$1" "$pw")"
	sbtok
	effect "$pw" "$(map_password pm "$1")"
	[ "$TOK" = ok ] && PW[$1]=$pw
}

op_cred_set_other() {
	local x pw=pwO_$1
	x=$(other_of "$1")
	if [ "$3" = raw ]; then
		rawtok "$1" PUT "/v1/apps/pm/mappings/$x" "{\"values\": $(creds_json "$x" "$pw")}"
		return
	fi
	run "$1" cred set pm --user "$x" --stdin <<<"$(creds_json "$x" "$pw")"
	sbtok
	effect "$pw" "$(map_password pm "$x")"
	[ "$TOK" = ok ] && PW[$x]=$pw
}

op_cred_get_self() {
	if [ "$3" = raw ]; then rawtok "$1" GET /v1/lookup/pm; return; fi
	run "$1" cred get pm
	sbtok
	content "identity $1:"
	content "user:     ext_$1"
	content "password: ********"
}

op_cred_get_self_masked() {
	if [ "$3" = raw ]; then
		rawtok "$1" GET "/v1/lookup/pm?show_masked=1"
		return
	fi
	run "$1" cred get pm --show-masked
	sbtok
	content "identity $1:"
	content "password: ${PW[$1]}"
}

op_cred_get_other() {
	local x
	x=$(other_of "$1")
	if [ "$3" = raw ]; then rawtok "$1" GET "/v1/lookup/pm?user=$x"; return; fi
	run "$1" cred get pm --user "$x"
	sbtok
	content "identity $x:"
	content "password: ********"
}

op_cred_get_other_masked() {
	local x
	x=$(other_of "$1")
	if [ "$3" = raw ]; then
		rawtok "$1" GET "/v1/lookup/pm?show_masked=1&user=$x"
		return
	fi
	run "$1" cred get pm --user "$x" --show-masked
	sbtok
	content "identity $x:"
	content "password: ${PW[$x]}"
}

op_mapping_list_app() {
	if [ "$3" = raw ]; then rawtok "$1" GET /v1/apps/pm/mappings; return; fi
	run "$1" mapping list --app pm
	sbtok
	content "$T"
}

op_mapping_list_user() {
	if [ "$3" = raw ]; then rawtok "$1" GET "/v1/mappings?user=$T"; return; fi
	run "$1" mapping list --user $T
	sbtok
	if [ "$TOK" = ok ] && ! grep -q "^pm  *$T " <<<"$OUT"; then
		TOK="ok, empty list"
	fi
}

op_mapping_enable() {
	must PATCH "/v1/apps/pm/mappings/$T" '{"enabled": false}'
	if [ "$3" = raw ]; then
		rawtok "$1" PATCH "/v1/apps/pm/mappings/$T" '{"enabled": true}'
	else
		run "$1" mapping enable pm --user $T
		sbtok
		effect enabled "$(map_state pm $T)"
	fi
	must PATCH "/v1/apps/pm/mappings/$T" '{"enabled": true}'
}

op_mapping_disable() {
	must PATCH "/v1/apps/pm/mappings/$T" '{"enabled": true}'
	if [ "$3" = raw ]; then
		rawtok "$1" PATCH "/v1/apps/pm/mappings/$T" '{"enabled": false}'
	else
		run "$1" mapping disable pm --user $T
		sbtok
		effect disabled "$(map_state pm $T)"
	fi
	must PATCH "/v1/apps/pm/mappings/$T" '{"enabled": true}'
}

op_mapping_delete() {
	set_map $T "${PW[$T]}"
	if [ "$3" = raw ]; then
		rawtok "$1" DELETE "/v1/apps/pm/mappings/$T"
	else
		run "$1" mapping delete pm --user $T --yes
		sbtok
		effect none "$(map_state pm $T)"
	fi
	set_map $T "${PW[$T]}"
}

op_config_set() {
	if [ "$3" = raw ]; then
		rawtok "$1" PUT /v1/apps/pc/config/default "{\"values\": {\"s_$2\": \"1\"}}"
		return
	fi
	run "$1" config set pc "s_$2=1"
	sbtok
	effect yes "$(cfg_has pc default "s_$2")"
}

op_config_get() {
	if [ "$3" = raw ]; then rawtok "$1" GET /v1/apps/pc/config/default; return; fi
	run "$1" config get pc
	sbtok
	content "k1=v1"
}

op_config_delete() {
	must PUT /v1/apps/pc/config/default "{\"values\": {\"d_$2\": \"1\"}}"
	if [ "$3" = raw ]; then
		rawtok "$1" DELETE "/v1/apps/pc/config/default/d_$2"
		return
	fi
	run "$1" config delete pc "d_$2"
	sbtok
	effect no "$(cfg_has pc default "d_$2")"
}

op_cache_purge_all() {
	if [ "$3" = raw ]; then rawtok "$1" POST /v1/cache/purge '{}'; return; fi
	run "$1" cache purge
	sbtok
}

op_cache_purge_app() {
	if [ "$3" = raw ]; then
		rawtok "$1" POST /v1/cache/purge '{"app": "pm"}'
		return
	fi
	run "$1" cache purge pm
	sbtok
}

# ---- the matrix: operation, its label, the expected cells by role ----
#                                         root sso  aff  adm  self other unrel
MATRIX=(
	"app_create|app create|                ok   ok   ok   403  403  403  403"
	"app_list|app list (sees pm?)|         sees sees sees sees sees sees hidden"
	"app_show|app show|                    ok   ok   ok   ok   ok   ok   403"
	"app_update|app update|                ok   ok   ok   403  403  403  403"
	"app_enable|app enable|                ok   ok   ok   403  403  403  403"
	"app_disable|app disable|              ok   ok   ok   403  403  403  403"
	"app_delete|app delete|                ok   ok   ok   403  403  403  403"
	"app_import|app import|                ok   ok   ok   403  403  403  403"
	"cred_set_self|cred set (self)|        ok   ok   ok   ok   ok   ok   403"
	"cred_set_other|cred set --user other| ok   ok   ok   ok   403  403  403"
	"cred_get_self|cred get (self)|        ok   ok   ok   ok   ok   ok   403"
	"cred_get_self_masked|cred get --show-masked (self)| ok ok ok ok ok ok 403"
	"cred_get_other|cred get --user other| ok   ok   ok   ok   403  403  403"
	"cred_get_other_masked|cred get --user other --show-masked| ok ok ok ok 403 403 403"
	"mapping_list_app|mapping list --app|  ok   ok   ok   ok   403  403  403"
	"mapping_list_user|mapping list --user T| ok ok  ok   ok   ok   403  403"
	"mapping_enable|mapping enable T|      ok   ok   ok   ok   403  403  403"
	"mapping_disable|mapping disable T|    ok   ok   ok   ok   403  403  403"
	"mapping_delete|mapping delete T|      ok   ok   ok   ok   403  403  403"
	"config_set|config set|                ok   ok   ok   ok   403  403  403"
	"config_get|config get|                ok   ok   ok   ok   ok   ok   403"
	"config_delete|config delete|          ok   ok   ok   ok   403  403  403"
	"cache_purge_all|cache purge (all)|    ok   ok   403  403  403  403  403"
	"cache_purge_app|cache purge APP|      ok   ok   ok   ok   403  403  403"
)

WRONG=()
LINES=()
for row in "${MATRIX[@]}"; do
	IFS='|' read -r op label expected <<<"$row"
	read -r -a exp <<<"$expected"
	line=$(printf '%-36s' "$label")
	bad=0
	for i in "${!ROLES[@]}"; do
		u=${ROLES[$i]}
		"op_$op" "$u" "${SHORT[$i]}" sbctl
		got=$TOK
		if [ "${exp[$i]}" = 403 ] && [ "$got" = 403 ]; then
			"op_$op" "$u" "${SHORT[$i]}" raw
			[ "$TOK" = 403 ] || got="403, but the raw API: $TOK"
		fi
		if [ "$got" = "${exp[$i]}" ]; then
			line+=$(printf ' %-7s' "$got")
		else
			line+=$(printf ' %-7s' "${got:0:5}!")
			WRONG+=("$label as ${SHORT[$i]} ($u): expected ${exp[$i]}, got $got")
			bad=1
		fi
	done
	LINES+=("$line")
	if [ $bad -eq 0 ]; then
		pass "$label: every role as expected"
	else
		fail "$label"
	fi
done

echo
echo "Permission matrix (! marks a cell that differs from the rules; T = $T):"
header=$(printf '%-36s' operation)
for s in "${SHORT[@]}"; do header+=$(printf ' %-7s' "$s"); done
printf '%s\n' "$header" "${LINES[@]}" | sed 's/ *$//'
if [ ${#WRONG[@]} -gt 0 ]; then
	echo
	echo "Wrong cells:"
	printf '  %s\n' "${WRONG[@]}"
fi
echo
finish
