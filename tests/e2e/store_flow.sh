#!/usr/bin/env bash
# The ENTSSO flow as a new user would go through it (issue 3, acceptance
# 1), against the real daemon with real users and groups and the real
# sbctl run as each of them: an affiliate administrator creates an
# application and enables it; a user sets and looks up their own
# credentials; another user is refused; the application administrator
# manages the mappings; a disabled application or mapping refuses lookups
# with its own code; the config store; a group application's one mapping;
# an all-or-nothing import; and deleting an application takes its mappings
# and config with it, down to the raw database file.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/store_lib.sh"

# Users and groups of this test (prefix sbtest_f_).
AFFG=sbtest_f_aff   # SSO affiliate administrators
ADMG=sbtest_f_adm   # the applications' administrators
USRG=sbtest_f_usr   # the applications' users
AFF=sbtest_f_aff1
ADM=sbtest_f_adm1
ALICE=sbtest_f_alice
BOB=sbtest_f_bob
EVE=sbtest_f_eve    # in none of the groups
for g in $AFFG $ADMG $USRG; do ensure_group $g || exit 1; done
ensure_user $AFF $AFFG || exit 1
ensure_user $ADM $ADMG || exit 1
ensure_user $ALICE $USRG || exit 1
ensure_user $BOB $USRG || exit 1
ensure_user $EVE || exit 1

T=$(make_tmpdir)
A=$T/node
DB=$A/sso.db
broker_config "$A" "
[access]
sso_affiliate_admins = $AFFG"
broker_start "$A" || exit 1
check "root generates the master secret" as root secret generate

# ---- an affiliate administrator creates the application ----
ok "affiliate admin creates application crm" $AFF app create crm \
	--type individual --fields user,password:masked --user-group $USRG \
	--admin-group $ADMG --description "Customer database" \
	--contact "crm-team@example"
check "... and is told it starts disabled" contains "$OUT" "disabled"
run $AFF app show crm
check "app show: type, groups and fields as created" \
	contains "$OUT" "fields:        user, password (masked)"
check "app show: disabled" contains "$OUT" "state:         disabled"
check "app show: user group" contains "$OUT" "user group:    $USRG"
refused "a user may not create applications" forbidden $ALICE app create \
	x --type individual --fields u --user-group $USRG
refused "an application administrator may not either" forbidden $ADM app \
	create x --type individual --fields u --user-group $USRG
run $ALICE app list
check "the user sees crm in app list" contains "$OUT" "crm"
run $EVE app list
expect_fail "an unrelated user does not see crm" contains "$OUT" "crm" 2>/dev/null

# A new application refuses lookups until enabled.
refused "lookup before the app is enabled: app_disabled" app_disabled \
	$ALICE cred get crm
ok "affiliate admin enables crm" $AFF app enable crm

# ---- the user sets and looks up their own credentials ----
ok "alice sets her credentials from stdin" $ALICE cred set crm --stdin \
	<<<'{"user": "alice_ext", "password": "Alice-Pw-1"}'
check "... a new mapping, enabled" contains "$OUT" "new mapping, enabled"
run $ALICE cred get crm
check "alice looks them up: user in clear" contains "$OUT" "alice_ext"
check "... the password masked" contains "$OUT" "password: ********"
expect_fail "... and not in clear" contains "$OUT" "Alice-Pw-1" 2>/dev/null
run $ALICE cred get crm --show-masked
check "alice with --show-masked sees her password" \
	contains "$OUT" "password: Alice-Pw-1"
run $ALICE --json cred get crm --no-cache
check "--json: the identity is alice's user name" \
	test "$(echo "$OUT" | jq -r .identity)" = $ALICE
ok "alice replaces her credentials" $ALICE cred set crm --stdin \
	<<<'{"user": "alice_ext", "password": "Alice-Pw-2"}'
check "... replaced" contains "$OUT" "replaced"
run $ALICE cred get crm --show-masked
check "the lookup right after sees the new password (cache invalidated)" \
	contains "$OUT" "Alice-Pw-2"
# Credentials are never taken from argv: there is no such argument.
run $ALICE cred set crm password=Alice-Pw-3
check "cred set with a value on the command line is a usage error" \
	test "$RC" -eq 2
refused "a missing field is refused, naming it" bad_request $ALICE cred \
	set crm --stdin <<<'{"user": "alice_ext"}'

# ---- another user is refused ----
refused "bob has no credentials of his own yet: no_mapping" no_mapping \
	$BOB cred get crm
refused "bob may not look up alice's credentials" forbidden $BOB cred get \
	crm --user $ALICE
r=$(raw_as $BOB GET "/v1/lookup/crm?user=$ALICE")
check "... a 403 with code forbidden on the raw API" test "$r" = "403 forbidden"
refused "bob may not set alice's credentials" forbidden $BOB cred set crm \
	--user $ALICE --stdin <<<'{"user": "bob_ext", "password": "x"}'
refused "eve, outside the user group, may not look up" forbidden $EVE \
	cred get crm
check "... and the message names the group needed" contains "$OUT" "$USRG"
refused "eve may not set credentials" forbidden $EVE cred set crm --stdin \
	<<<'{"user": "eve_ext", "password": "x"}'
run $ALICE cred get crm --show-masked
check "alice's credentials are unchanged" contains "$OUT" "Alice-Pw-2"

# ---- the application administrator manages the mappings ----
run $ADM mapping list --app crm
check "app admin lists the mappings of crm" contains "$OUT" "$ALICE"
ok "app admin disables alice's mapping" $ADM mapping disable crm --user $ALICE
refused "alice's lookup is refused: mapping_disabled" mapping_disabled \
	$ALICE cred get crm
r=$(raw_as $ALICE GET /v1/lookup/crm)
check "... a 403 with code mapping_disabled on the raw API" \
	test "$r" = "403 mapping_disabled"
run $ADM mapping list --app crm
check "... the listing says disabled" contains "$OUT" "disabled"
ok "app admin enables it again" $ADM mapping enable crm --user $ALICE
ok "alice looks up again" $ALICE cred get crm
ok "app admin sets bob's credentials" $ADM cred set crm --user $BOB \
	--stdin <<<'{"user": "bob_ext", "password": "Bob-Pw-1"}'
run $BOB cred get crm --show-masked
check "bob looks up what the admin set" contains "$OUT" "Bob-Pw-1"
run $ADM cred get crm --user $ALICE --show-masked
check "app admin looks up alice's on her behalf" contains "$OUT" "Alice-Pw-2"
run $ALICE mapping list
check "alice lists her own mappings" contains "$OUT" "crm"
run_notty $ADM mapping delete crm --user $BOB
check "mapping delete without a terminal or --yes refuses" test "$RC" -eq 1
check "... saying to give --yes" contains "$OUT" "--yes"
ok "... and bob's credentials are still there" $BOB cred get crm
ok "app admin deletes bob's mapping with --yes" $ADM mapping delete crm \
	--user $BOB --yes
refused "bob's lookup: no_mapping" no_mapping $BOB cred get crm
refused "a user may not disable mappings, not even their own" forbidden \
	$ALICE mapping disable crm --user $ALICE
refused "a user may not list the mappings of the app" forbidden $ALICE \
	mapping list --app crm

# ---- a disabled application ----
ok "affiliate admin disables crm" $AFF app disable crm
refused "alice's lookup: app_disabled" app_disabled $ALICE cred get crm
r=$(raw_as $ALICE GET /v1/lookup/crm)
check "... a 403 with code app_disabled on the raw API" \
	test "$r" = "403 app_disabled"
ok "affiliate admin enables crm again" $AFF app enable crm
ok "alice looks up again" $ALICE cred get crm
ok "affiliate admin changes the description" $AFF app update crm \
	--description "Customer DB" --contact "ops@example"
run $ALICE app show crm
check "... which alice sees" contains "$OUT" "Customer DB"

# ---- the config store ----
ok "affiliate admin creates a config-store application" $AFF app create \
	crmcfg --type config-store --user-group $USRG --admin-group $ADMG
ok "... and enables it" $AFF app enable crmcfg
ok "app admin sets config values" $ADM config set crmcfg \
	url=https://crm.example/api "token=T0k3n=with=equals"
ok "app admin sets values under another id from stdin" $ADM config set \
	crmcfg --id prod --stdin <<<'{"dsn": "postgres://crm@db/prod"}'
run $ALICE config get crmcfg
check "a user reads the config store" \
	contains "$OUT" "token=T0k3n=with=equals"
check "... every key" contains "$OUT" "url=https://crm.example/api"
run $ALICE config get crmcfg url
check "... one key alone" test "$OUT" = "https://crm.example/api"
run $ALICE config get crmcfg --id prod dsn
check "... under another id" test "$OUT" = "postgres://crm@db/prod"
refused "a user may not set config values" forbidden $ALICE config set \
	crmcfg k=v
refused "eve may not read them" forbidden $EVE config get crmcfg
ok "app admin deletes a key" $ADM config delete crmcfg token
refused "... which is gone" no_such_key $ALICE config get crmcfg token
refused "an id without values: no_such_config" no_such_config $ALICE \
	config get crmcfg --id nope
refused "config commands on a credentials app: wrong_app_type" \
	wrong_app_type $ADM config set crm k=v

# ---- a group application: one mapping for the whole user group ----
ok "affiliate admin creates group application share" $AFF app create \
	share --type group --fields account,secret:masked --user-group $USRG \
	--admin-group $ADMG
ok "... and enables it" $AFF app enable share
ok "app admin sets the group's credentials" $ADM cred set share --stdin \
	<<<'{"account": "svc_share", "secret": "Share-Pw-1"}'
check "... as the mapping of the user group" contains "$OUT" "of $USRG"
for u in $ALICE $BOB; do
	run $u cred get share --show-masked
	check "$u looks up the group's credentials" \
		contains "$OUT" "secret:  Share-Pw-1"
done
check "... whose identity is the group" \
	test "$(as $BOB --json cred get share | jq -r .identity)" = $USRG
refused "eve, outside the group, may not" forbidden $EVE cred get share
run $ADM --json mapping list --app share
check "the group app has exactly one mapping, the group's" \
	test "$(echo "$OUT" | jq -c '[.mappings[].identity]')" = "[\"$USRG\"]"
refused "no per-user mapping on a group app" bad_request $ADM cred set \
	share --user $ALICE --stdin <<<'{"account": "a", "secret": "b"}'
refused "a member may not change the group's credentials" forbidden \
	$ALICE cred set share --stdin <<<'{"account": "a", "secret": "b"}'

# ---- import: all or nothing ----
cat >"$T/bad.json" <<'EOF'
{"apps": [
 {"name": "imp1", "type": "individual", "fields": [{"label": "user"}], "user_group": "sbtest_f_usr"},
 {"name": "imp2", "type": "config-store", "user_group": "sbtest_f_usr"},
 {"name": "imp3", "type": "nonsense", "fields": [{"label": "user"}], "user_group": "sbtest_f_usr"}
]}
EOF
cat >"$T/dup.json" <<'EOF'
[{"name": "imp1", "type": "individual", "fields": [{"label": "user"}], "user_group": "sbtest_f_usr"},
 {"name": "crm", "type": "config-store", "user_group": "sbtest_f_usr"}]
EOF
cat >"$T/good.json" <<'EOF'
[{"name": "imp1", "type": "individual", "fields": [{"label": "user"}, {"label": "pin", "masked": true}], "user_group": "sbtest_f_usr", "admin_group": "sbtest_f_adm"},
 {"name": "imp2", "type": "config-store", "user_group": "sbtest_f_usr"}]
EOF
chmod 644 "$T"/*.json
refused "an import with one invalid application is refused" bad_request \
	$AFF app import "$T/bad.json"
check "... naming it" contains "$OUT" "imp3"
refused "... and imp1 was not created" no_such_app $AFF app show imp1
refused "an import with an existing name is refused" app_exists $AFF app \
	import "$T/dup.json"
check "... naming it" contains "$OUT" "crm"
refused "... and imp1 was not created" no_such_app $AFF app show imp1
refused "a user may not import" forbidden $ALICE app import "$T/good.json"
ok "a valid import creates every application" $AFF app import \
	"$T/good.json"
check "... both of them" contains "$OUT" "created 2 applications"
run $AFF app show imp1
check "... disabled, with their fields" contains "$OUT" "user, pin (masked)"

# ---- deleting an application takes its mappings and config with it ----
check "before the delete: crm's mappings are in the database" \
	test "$(db_count "CAST(key AS TEXT) LIKE 'map/crm/%' OR CAST(key AS TEXT) LIKE 'umap/%/crm'")" -ge 2
check "before the delete: crmcfg's values are in the database" \
	test "$(db_count "CAST(key AS TEXT) LIKE 'cfg/crmcfg/%'")" -ge 2
run_notty $AFF app delete crm
check "app delete without a terminal or --yes refuses" test "$RC" -eq 1
ok "... and crm is still there" $ALICE cred get crm
refused "an application administrator may not delete it" forbidden $ADM \
	app delete crm --yes
ok "affiliate admin deletes crm" $AFF app delete crm --yes
check "... with its one mapping" contains "$OUT" "with 1 credential mappings"
refused "crm is gone" no_such_app $ALICE cred get crm
run $ALICE mapping list --user $ALICE
expect_fail "alice's mapping list no longer shows crm" \
	contains "$OUT" "crm " 2>/dev/null
run root --json mapping list --user $ALICE
check "... nor does root's view of her mappings" \
	test "$(echo "$OUT" | jq -c '[.mappings[].app]')" = "[]"
check "the database holds no map/crm/ or umap/*/crm key" \
	test "$(db_count "CAST(key AS TEXT) LIKE 'map/crm/%' OR CAST(key AS TEXT) LIKE 'umap/%/crm'")" -eq 0
check "... nor the application record" \
	test "$(db_count "key = CAST('app/crm' AS BLOB)")" -eq 0
ok "affiliate admin deletes crmcfg" $AFF app delete crmcfg --yes
check "... with its config values" contains "$OUT" "and 2 config values"
check "the database holds no cfg/crmcfg/ key" \
	test "$(db_count "CAST(key AS TEXT) LIKE 'cfg/crmcfg/%'")" -eq 0
ok "the group app is deleted too" $AFF app delete share --yes
check "... and its one mapping with it" \
	test "$(db_count "CAST(key AS TEXT) LIKE 'map/share/%' OR CAST(key AS TEXT) LIKE 'umap/%/share'")" -eq 0

# Last, since a daemon that gets this wrong may not survive it: an import
# naming one application twice is refused, naming it, and nothing is
# created.
cat >"$T/twice.json" <<'EOF'
[{"name": "twice", "type": "config-store", "user_group": "sbtest_f_usr"},
 {"name": "twice", "type": "config-store", "user_group": "sbtest_f_usr"}]
EOF
chmod 644 "$T/twice.json"
refused "an import naming an application twice is refused" bad_request \
	$AFF app import "$T/twice.json"
check "... naming it" contains "$OUT" "application twice appears twice"
check "the daemon is still up" broker_answers "$A"
refused "... and nothing was created" no_such_app $AFF app show twice
finish
