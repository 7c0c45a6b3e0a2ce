#!/usr/bin/env bash
# The pkcs11 crypto plugin on a real SoftHSM 2 token (issue 17, items 1
# and 2): the master secret sealed under a non-extractable key in the
# token, unsealed after a restart, credentials readable; every way the
# plugin refuses to open (wrong PIN, missing token, missing key, an
# extractable key, a 128-bit key, a module that does not load, a PIN file
# others can read), each a clear error naming what, changing nothing; a
# token absent at start; and the migration from a key file into the token
# and back through backup and restore (docs/crypto-pkcs11.md).
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/../fixtures/softhsm.sh"

T=$(make_tmpdir)
softhsm_init "$T/hsm" || exit 1
A=$T/node-a
broker_config "$A" "$(softhsm_crypto_ini)"
broker_start "$A" || exit 1

check "generate under the token's key" sbctl_in "$A" secret generate
MSID=$(sbctl_in "$A" --json secret status | jq -r .msid)
check "the sealed file is the pkcs11 plugin's" \
	test "$(head -c 6 "$A/state/secret.sealed")" = SBP11S
check "... mode 0600" test "$(stat -c %a "$A/state/secret.sealed")" = 600
expect_fail "no key file is made" test -e "$A/state/node.key"
check "a config-store application" sbctl_in "$A" app create cfg \
	--type config-store --user-group root
sbctl_in "$A" app enable cfg >/dev/null
check "a value stored (record encryption, OpenSSL)" \
	sbctl_in "$A" config set cfg colour=blue
broker_stop "$A"
broker_start "$A" || exit 1
check "after a restart the secret is unsealed from the token" \
	test "$(sbctl_in "$A" --json secret status | jq -r .msid)" = "$MSID"
check "... and the check value matches" \
	test "$(sbctl_in "$A" --json secret status | jq -r .check)" = ok
check "... and the stored value reads back" \
	contains "$(sbctl_in "$A" config get cfg colour 2>&1)" blue
# A reload opens the plugin again beside the running one (the module is
# shared, the token already logged in); closing the old one must leave the
# new one working.
test_gen() { [ "$(sbctl_in "$A" --json status | jq -r .config.generation)" = "$1" ]; }
kill -HUP "$(broker_pid "$A")"
check "a reload installs generation 2" wait_until 20 test_gen 2
kill -HUP "$(broker_pid "$A")"
check "... and another generation 3" wait_until 20 test_gen 3
check "after reloads a value is stored and read" \
	sbctl_in "$A" config set cfg size=large
check "... read back" contains "$(sbctl_in "$A" config get cfg size 2>&1)" large
printf 'a backup password\n' >"$T/apw"; chmod 600 "$T/apw"
sbctl_in "$A" secret backup "$T/a.sbk" --password-file "$T/apw" >/dev/null
before=$(sha256sum <"$A/state/secret.sealed")
check "after reloads the token seals again (restore)" \
	sbctl_in "$A" secret restore "$T/a.sbk" --password-file "$T/apw"
check "... a new sealed file (fresh nonce)" \
	test "$(sha256sum <"$A/state/secret.sealed")" != "$before"
broker_stop "$A"
broker_start "$A" || exit 1
check "... and after a restart" \
	contains "$(sbctl_in "$A" config get cfg size 2>&1)" large
broker_stop "$A"
sum_before=$(sha256sum "$A/state/secret.sealed")

# refused_t WHAT MESSAGE INI: secretbrokerd -t on A's config with INI as
# [crypto] fails and says MESSAGE.
refused_t() {
	local what=$1 msg=$2 ini=$3 out rc
	broker_config "$A" "$ini"
	out=$(timeout 30 "$SECRETBROKERD" -c "$A/secretbroker.ini" -t 2>&1)
	rc=$?
	check "$what: refused" test "$rc" -ne 0 -a "$rc" -ne 124
	check "$what: says so" contains "$out" "$msg"
	expect_fail "$what: the PIN is not in the message" \
		contains "$out" "$SOFTHSM_USER_PIN" 2>/dev/null
}
check "the good configuration passes -t" \
	"$SECRETBROKERD" -c "$A/secretbroker.ini" -t

printf 'wrong-pin\n' >"$T/badpin"; chmod 600 "$T/badpin"
refused_t "a wrong PIN" "[crypto] pin_file: the PIN in $T/badpin was refused by token 'sb-test'" \
	"$(softhsm_crypto_ini)
pin_file = $T/badpin"
refused_t "a missing token" "[crypto] token_label: no token labelled 'nope' in $SOFTHSM_MODULE (tokens present: 'sb-test'" \
	"$(softhsm_crypto_ini)
token_label = nope"
refused_t "a missing key" "[crypto] key_label: no secret key labelled 'missing' on token 'sb-test'" \
	"$(softhsm_crypto_ini missing)"
refused_t "an extractable key" "[crypto] key_label: key 'sb-extractable' on token 'sb-test' is extractable" \
	"$(softhsm_crypto_ini sb-extractable)"
refused_t "a 128-bit key" "[crypto] key_label: key 'sb-aes128' on token 'sb-test' is not a 256-bit AES key" \
	"$(softhsm_crypto_ini sb-aes128)"
refused_t "a module that does not exist" "[crypto] module: cannot load the PKCS#11 library $T/nope.so" \
	"$(softhsm_crypto_ini)
module = $T/nope.so"
libz=$(ls /usr/lib/*-linux-gnu/libz.so.1 /lib/*-linux-gnu/libz.so.1 2>/dev/null | head -n1)
refused_t "a library that is not a PKCS#11 module" "[crypto] module: $libz is not a PKCS#11 library" \
	"$(softhsm_crypto_ini)
module = $libz"
refused_t "a relative module path" "[crypto] module: libsofthsm2.so is not an absolute path" \
	"$(softhsm_crypto_ini)
module = libsofthsm2.so"
cp "$SOFTHSM_PIN" "$T/openpin"; chmod 644 "$T/openpin"
refused_t "a PIN file others can read" "[crypto] pin_file: $T/openpin has mode 0644" \
	"$(softhsm_crypto_ini)
pin_file = $T/openpin"
refused_t "a missing PIN file" "[crypto] pin_file: cannot open $T/none" \
	"$(softhsm_crypto_ini)
pin_file = $T/none"
: >"$T/emptypin"; chmod 600 "$T/emptypin"
refused_t "an empty PIN file" "[crypto] pin_file: $T/emptypin must hold the PIN on one line (it is empty)" \
	"$(softhsm_crypto_ini)
pin_file = $T/emptypin"
refused_t "no pin_file setting" "[crypto] pin_file: missing" \
	"$(softhsm_crypto_ini | grep -v pin_file)"
refused_t "a PIN in the configuration" "[crypto] pin: unknown key for crypto plugin pkcs11" \
	"$(softhsm_crypto_ini)
pin = $SOFTHSM_USER_PIN"
check "none of these changed the sealed secret" \
	test "$(sha256sum "$A/state/secret.sealed")" = "$sum_before"

# A sealed file the token's key does not open: sealed under another key of
# the token, or altered.
refused_t "the secret sealed under another key" "sealed by another node's key (key id" \
	"$(softhsm_crypto_ini sb-seal-2)"
broker_config "$A" "$(softhsm_crypto_ini)"
cp "$A/state/secret.sealed" "$T/sealed.good"
size=$(stat -c %s "$A/state/secret.sealed")
printf '\x5a' | dd of="$A/state/secret.sealed" bs=1 seek=$((size - 20)) conv=notrunc 2>/dev/null
out=$(timeout 30 "$SECRETBROKERD" -c "$A/secretbroker.ini" -t 2>&1); rc=$?
check "an altered sealed file is refused" test "$rc" -ne 0 -a "$rc" -ne 124
check "... naming the key it does not open under" \
	contains "$out" "does not decrypt under key 'sb-seal' on token 'sb-test'"
cp "$T/sealed.good" "$A/state/secret.sealed"

# The token absent at start: the daemon does not start, and says why.
broker_config "$A" "$(softhsm_crypto_ini)"
mv "$T/hsm/tokens" "$T/hsm/tokens.away"
mkdir -m 700 "$T/hsm/tokens"
out=$(timeout 30 "$SECRETBROKERD" -c "$A/secretbroker.ini" 2>&1); rc=$?
check "the token absent at start: the daemon exits" test "$rc" -ne 0 -a "$rc" -ne 124
check "... naming the token" contains "$out" "no token labelled 'sb-test'"
rmdir "$T/hsm/tokens"; mv "$T/hsm/tokens.away" "$T/hsm/tokens"
broker_start "$A" || exit 1
check "with the token back it starts with the same secret" \
	test "$(sbctl_in "$A" --json secret status | jq -r .msid)" = "$MSID"
broker_stop "$A"

# ---- a session lost while running (token out and back, HSM restart) ----
# SB_P11_FAULT_MODULE forwards to SoftHSM and closes the session under the
# plugin's feet when $T/fault exists (tests/e2e/p11_fault.c).
F=$T/node-f
export SB_TEST_P11_FAULT_FILE=$T/fault
broker_config "$F" "$(softhsm_crypto_ini)
module = ${SB_P11_FAULT_MODULE:?the test fault module}"
broker_start "$F" || exit 1
touch "$T/fault"
check "a seal on a lost session: a new session, and the seal succeeds" \
	sbctl_in "$F" secret generate
check "... the session was lost there" test ! -e "$T/fault"
check "... and the log says so" grep -q "the session on token 'sb-test' is lost (CKR_SESSION_HANDLE_INVALID): opening a new one" "$F/broker.log"
check "... and that the seal then succeeded" grep -q "new session on token 'sb-test' opened; the seal succeeded" "$F/broker.log"
FMSID=$(sbctl_in "$F" --json secret status | jq -r .msid)
broker_stop "$F"
touch "$T/fault"
broker_start "$F" || exit 1
check "an unseal at start on a lost session succeeds on a new one" \
	test "$(sbctl_in "$F" --json secret status | jq -r .msid)" = "$FMSID"
check "... (it was lost)" test ! -e "$T/fault"
# A new session needs the PIN again: pin_file is read anew, and checked.
printf 'a backup password\n' >"$T/fpw"; chmod 600 "$T/fpw"
sbctl_in "$F" secret backup "$T/f.sbk" --password-file "$T/fpw" >/dev/null
chmod 644 "$SOFTHSM_PIN"
touch "$T/fault"
out=$(sbctl_in "$F" secret restore "$T/f.sbk" --password-file "$T/fpw" 2>&1); rc=$?
check "a lost session with a PIN file others can read: the seal fails" test "$rc" -ne 0
check "... naming the PIN file" contains "$out" "[crypto] pin_file: $SOFTHSM_PIN has mode 0644"
chmod 600 "$SOFTHSM_PIN"
check "... and with the file fixed the next seal opens a session" \
	sbctl_in "$F" secret restore "$T/f.sbk" --password-file "$T/fpw"
broker_stop "$F"
unset SB_TEST_P11_FAULT_FILE

# ---- migration: key file -> token -> key file ----
M=$T/node-m
export SB_DB=$T/m.db
printf 'migration password 1\n' >"$T/pw"; chmod 600 "$T/pw"
broker_config "$M"
broker_start "$M" || exit 1
sbctl_in "$M" secret generate >/dev/null
MMSID=$(sbctl_in "$M" --json secret status | jq -r .msid)
sbctl_in "$M" app create cfg --type config-store --user-group root >/dev/null
sbctl_in "$M" app enable cfg >/dev/null
sbctl_in "$M" config set cfg answer=42 >/dev/null
check "backup on the key-file node" sbctl_in "$M" secret backup \
	"$T/m1.sbk" --password-file "$T/pw"
broker_stop "$M"

broker_config "$M" "$(softhsm_crypto_ini)"
out=$(timeout 30 "$SECRETBROKERD" -c "$M/secretbroker.ini" 2>&1); rc=$?
check "the key-file seal is refused by the pkcs11 plugin" test "$rc" -ne 0 -a "$rc" -ne 124
check "... saying it was sealed by the openssl plugin" \
	contains "$out" "sealed by the openssl plugin"
mv "$M/state/secret.sealed" "$T/m-keyfile.sealed"
rm -f "$M/state/node.key"
broker_start "$M" || exit 1
check "restore into the token" sbctl_in "$M" secret restore "$T/m1.sbk" \
	--password-file "$T/pw"
check "... the same MSID" \
	test "$(sbctl_in "$M" --json secret status | jq -r .msid)" = "$MMSID"
check "... sealed by the token now" \
	test "$(head -c 6 "$M/state/secret.sealed")" = SBP11S
check "... the credentials read" \
	contains "$(sbctl_in "$M" config get cfg answer 2>&1)" 42
broker_stop "$M"
broker_start "$M" || exit 1
check "... and after a restart" \
	contains "$(sbctl_in "$M" config get cfg answer 2>&1)" 42
check "backup on the token node" sbctl_in "$M" secret backup \
	"$T/m2.sbk" --password-file "$T/pw"
broker_stop "$M"

broker_config "$M"
out=$(timeout 30 "$SECRETBROKERD" -c "$M/secretbroker.ini" 2>&1); rc=$?
check "the token's seal is refused by the openssl plugin" test "$rc" -ne 0 -a "$rc" -ne 124
check "... saying it was sealed by the pkcs11 plugin" \
	contains "$out" "sealed by the pkcs11 plugin"
mv "$M/state/secret.sealed" "$T/m-token.sealed"
broker_start "$M" || exit 1
check "restore back onto a key file" sbctl_in "$M" secret restore \
	"$T/m2.sbk" --password-file "$T/pw"
check "... the same MSID" \
	test "$(sbctl_in "$M" --json secret status | jq -r .msid)" = "$MMSID"
check "... sealed by the key file" \
	test "$(head -c 6 "$M/state/secret.sealed")" = SBSEAL
check "... the credentials read" \
	contains "$(sbctl_in "$M" config get cfg answer 2>&1)" 42

broker_stop "$A" 2>/dev/null
expect_fail "no sanitizer report in any daemon's log" \
	grep -rqE "ERROR: (Address|Leak)Sanitizer|runtime error:" --include=broker.log "$T"
finish
