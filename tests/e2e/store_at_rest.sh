#!/usr/bin/env bash
# Credentials and config values at rest (issue 3, item 4): after storing a
# set of distinctive values through sbctl, the raw SQLite database file, its
# WAL and the daemon's log hold none of them, in clear or encoded (base64 at
# every alignment, hex); and a sealed value moved to another record (with
# the sqlite3 CLI, editing the record's JSON in the sb_kv table) fails to
# open with record_damaged instead of being returned.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/store_lib.sh"

# Byte semantics for ${#v} and ${v:i:n} (values hold UTF-8).
export LC_ALL=C

TMP=$(make_tmpdir)
A=$TMP/node
DB=$A/sso.db
broker_config "$A"
broker_start "$A" || exit 1
as root secret generate >/dev/null || exit 1

# Distinctive values, fresh per run so that no earlier run can account
# for a find.
R=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
declare -A V=(
	[alice_user]="ext-alice-$R-user"
	[alice_pw]="Alice-Password-$R-!"
	[alice_pin]="pin-$R-4711"
	[bob_user]="ext-bob-$R-user"
	[bob_pw]="Bob-P\xc3\xa4sswort-$R"
	[bob_pin]="pin-$R-0815"
	[carol_user]="ext-carol-$R-user"
	[carol_pw]="Carol-Password-$R-old"
	[carol_pw2]="Carol-Password-$R-new"
	[carol_pin]="pin-$R-2718"
	[team_account]="svc-team-$R"
	[team_secret]="Team-Secret-$R-shared"
	[cfg_url]="https://db-$R.example/api"
	[cfg_token]="tok-$R-AbCdEfGhIjKl"
	[cfg_dsn]="postgres://app:Pg-$R@db/prod"
)
for k in "${!V[@]}"; do V[$k]=$(printf '%b' "${V[$k]}"); done
DESC="AtRest-Description-$R" # stored in clear: the grep's positive control

cred_json() { # USER PASSWORD PIN
	jq -cn --arg u "$1" --arg p "$2" --arg n "$3" \
		'{user: $u, password: $p, pin: $n}'
}

ok "create individual application vault" root app create vault \
	--type individual --fields user,password:masked,pin:masked \
	--user-group sbtest_at_users --description "$DESC"
ok "create group application team" root app create team --type group \
	--fields account,secret:masked --user-group sbtest_at_team
ok "create config-store application conf" root app create conf \
	--type config-store --user-group sbtest_at_users
for a in vault team conf; do ok "enable $a" root app enable $a; done
for u in alice bob carol; do
	ok "store $u's credentials" root cred set vault --user at_$u --stdin \
		<<<"$(cred_json "${V[${u}_user]}" "${V[${u}_pw]}" "${V[${u}_pin]}")"
done
ok "replace carol's password" root cred set vault --user at_carol --stdin \
	<<<"$(cred_json "${V[carol_user]}" "${V[carol_pw2]}" "${V[carol_pin]}")"
ok "store the group's credentials" root cred set team --stdin \
	<<<"$(jq -cn --arg a "${V[team_account]}" --arg s "${V[team_secret]}" \
		'{account: $a, secret: $s}')"
ok "store config values from arguments" root config set conf \
	"url=${V[cfg_url]}" "token=${V[cfg_token]}"
ok "store a config value from stdin" root config set conf --id prod \
	--stdin <<<"$(jq -cn --arg d "${V[cfg_dsn]}" '{dsn: $d}')"

# They come back as stored.
run root --json cred get vault --user at_bob --show-masked
check "bob's password reads back as stored (UTF-8 intact)" \
	test "$(echo "$OUT" | jq -r .values.password)" = "${V[bob_pw]}"
run root --json cred get vault --user at_carol --show-masked
check "carol's reads back replaced" \
	test "$(echo "$OUT" | jq -r .values.password)" = "${V[carol_pw2]}"
run root config get conf --id prod dsn
check "the config value reads back" test "$OUT" = "${V[cfg_dsn]}"

# ---- the raw files hold none of the values ----

# Every encoding of value v that a careless store could have written: the
# bytes themselves, hex, and base64 at each of the three alignments the
# value could have inside a longer base64 text (a whole number of 3-byte
# groups of v from offset 0, 1 and 2).
needles() {
	local v=$1 k sub n
	printf '%s\n' "$v"
	printf '%s' "$v" | od -An -tx1 | tr -d ' \n'
	echo
	printf '%s' "$v" | od -An -tx1 | tr -d ' \n' | tr a-f A-F
	echo
	for k in 0 1 2; do
		sub=${v:$k}
		n=$((${#sub} / 3 * 3))
		printf '%s' "${sub:0:$n}" | base64 -w0
		echo
	done
}

# not_in TEXT NEEDLE: true when NEEDLE is not in TEXT.
not_in() { [[ "$1" != *"$2"* ]]; }

# files_holding NEEDLE FILE...: the files that contain NEEDLE.
files_holding() {
	local needle=$1 f
	shift
	for f in "$@"; do
		[ -f "$f" ] && grep -qaF -- "$needle" "$f" && echo "$f"
	done
}

# grep_all LABEL FILE...: one check per value; each fails naming the value's
# label (never the value), the encoding and the file it was found in.
grep_all() {
	local label=$1 k needle found hits
	shift
	for k in $(printf '%s\n' "${!V[@]}" | sort); do
		found=""
		while IFS= read -r needle; do
			[ -n "$needle" ] || continue
			hits=$(files_holding "$needle" "$@")
			[ -n "$hits" ] && found+=" [${#needle}-byte encoding in: $hits]"
		done < <(needles "${V[$k]}")
		if [ -z "$found" ]; then
			pass "$label: no trace of $k"
		else
			fail "$label: $k found$found"
		fi
	done
}

FILES=("$DB" "$DB-wal")
check "the database file exists" test -s "$DB"
check "positive control: the grep finds the description stored in clear" \
	test -n "$(files_holding "$DESC" "${FILES[@]}")"
check "positive control: ... and an identity in the keys" \
	test -n "$(files_holding "map/vault/at_carol" "${FILES[@]}")"
# The needles find a value inside any longer base64 text, whatever its
# alignment, and in hex.
for pre in "" "x" "xy"; do
	printf '%s%s-tail' "$pre" "$DESC" | base64 -w0 >"$TMP/b64"
	check "positive control: base64 of a value after ${#pre} bytes is found" \
		test -n "$(needles "$DESC" | while IFS= read -r n; do
			files_holding "$n" "$TMP/b64"; done)"
done
printf 'x%sy' "$DESC" | od -An -tx1 | tr -d ' \n' >"$TMP/hex"
check "positive control: hex of a value is found" \
	test -n "$(files_holding "$(needles "$DESC" | sed -n 2p)" "$TMP/hex")"
grep_all "database and WAL" "${FILES[@]}"
grep_all "daemon log" "$A/broker.log"

# ---- a sealed value moved to another record does not open ----

# sql STATEMENT: runs it on the raw database beside the running daemon.
sql() { sqlite3 -bail "$DB" ".timeout 5000" "$1"; }
K() { echo "CAST('$1' AS BLOB)"; } # a key, as the BLOB it is stored as

# move_field FROM-KEY FROM-INDEX TO-KEY TO-INDEX: copies one sealed field
# of the mapping record FROM-KEY over one of TO-KEY; prints rows changed.
move_field() {
	sql "UPDATE sb_kv SET value = CAST(json_set(CAST(value AS TEXT),
		'\$.fields[$4]', (SELECT json_extract(CAST(value AS TEXT),
		'\$.fields[$2]') FROM sb_kv WHERE key = $(K "$1"))) AS BLOB),
		version = version + 1 WHERE key = $(K "$3");
		SELECT changes();"
}

check "bob's record opens before the edit" as root --json cred get vault --user \
	at_bob --show-masked --no-cache
check "move alice's sealed user name into bob's record" \
	test "$(move_field map/vault/at_alice 0 map/vault/at_bob 0)" = 1
refused "bob's lookup fails: record_damaged" record_damaged root cred get \
	vault --user at_bob --no-cache
check "... without alice's user name in the output" \
	not_in "$OUT" "${V[alice_user]}"
r=$(raw_as root GET "/v1/lookup/vault?user=at_bob&cache=bypass")
check "... a 500 record_damaged on the raw API" test "$r" = "500 record_damaged"
ok "after a cache purge" root cache purge
refused "... the cached lookup fails too" record_damaged root cred get vault \
	--user at_bob

check "move alice's sealed password into carol's record" \
	test "$(move_field map/vault/at_alice 1 map/vault/at_carol 1)" = 1
refused "carol's lookup with --show-masked fails: record_damaged" \
	record_damaged root cred get vault --user at_carol --show-masked \
	--no-cache
check "... without alice's password in the output" \
	not_in "$OUT" "${V[alice_pw]}"

check "swap alice's password and pin within her record" \
	test "$(sql "UPDATE sb_kv SET value = CAST(json_set(CAST(value AS TEXT),
		'\$.fields[1]', json_extract(CAST(value AS TEXT), '\$.fields[2]'),
		'\$.fields[2]', json_extract(CAST(value AS TEXT), '\$.fields[1]'))
		AS BLOB), version = version + 1
		WHERE key = $(K map/vault/at_alice); SELECT changes();")" = 1
refused "alice's lookup with --show-masked fails: record_damaged" \
	record_damaged root cred get vault --user at_alice --show-masked \
	--no-cache

check "copy carol's whole record to a new identity dave" \
	test "$(sql "INSERT INTO sb_kv(key, value, version) SELECT
		$(K map/vault/at_dave), value, 1 FROM sb_kv
		WHERE key = $(K map/vault/at_carol); SELECT changes();")" = 1
refused "dave's lookup fails: record_damaged" record_damaged root cred get \
	vault --user at_dave --no-cache

check "move the group's sealed secret into a vault record's pin" \
	test "$(move_field map/team/sbtest_at_team 1 map/vault/at_carol 2)" = 1
refused "... which does not open either" record_damaged root cred get \
	vault --user at_carol --show-masked --no-cache

check "move config value url over token" \
	test "$(sql "UPDATE sb_kv SET value = (SELECT value FROM sb_kv
		WHERE key = $(K cfg/conf/default/url)), version = version + 1
		WHERE key = $(K cfg/conf/default/token); SELECT changes();")" = 1
refused "reading token fails: record_damaged" record_damaged root config \
	get conf token
refused "reading the whole config fails too" record_damaged root config \
	get conf
check "... without the url in the output" \
	not_in "$OUT" "${V[cfg_url]}"
ok "an untouched config value still reads" root config get conf --id prod dsn

# ---- after the daemon stops (it may checkpoint the WAL into the file) ----
check "the daemon stops cleanly" broker_stop "$A"
grep_all "database file after stop" "$DB" "$DB-wal"
grep_all "daemon log after stop" "$A/broker.log"
finish
