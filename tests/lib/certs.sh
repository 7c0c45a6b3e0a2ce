# Test PKI for the mutual-TLS tests (bash; source this file).
#
#   make_test_pki DIR NAME...
#
# makes, in DIR (created if missing):
#   ca.crt, ca.key                 the cluster's test CA
#   NAME.crt, NAME.key             for each NAME: CN=NAME, subjectAltName
#                                  DNS:NAME, DNS:localhost, IP:127.0.0.1,
#                                  extendedKeyUsage serverAuth,clientAuth,
#                                  signed by ca.crt
#   foreign-ca.crt, foreign-ca.key an unrelated CA
#   foreign.crt, foreign.key       CN=foreign, same names, signed by the
#                                  foreign CA (for negative tests)
#
#   make_test_cert_cn_only DIR NAME
#
# adds NAME.crt/NAME.key signed by DIR/ca.crt with CN=NAME and no
# subjectAltName (to test the CN fallback of the identity).
#
# Keys are EC P-256 (fast), written 0600 (umask 077 in a subshell). The
# commands are the ones docs/tls.md gives operators, so the guide's recipe
# is what the tests run. Returns non-zero, with openssl's output on stderr,
# when any step fails.

# _pki_leaf_ext FILE SAN: writes the extensions of a leaf certificate, in
# section [leaf] (SAN empty: no subjectAltName).
_pki_leaf_ext() {
	local file=$1 san=$2
	{
		printf '[leaf]\n'
		printf 'basicConstraints = critical,CA:FALSE\n'
		printf 'keyUsage = critical,digitalSignature\n'
		printf 'extendedKeyUsage = serverAuth,clientAuth\n'
		printf 'subjectKeyIdentifier = hash\n'
		printf 'authorityKeyIdentifier = keyid\n'
		if [ -n "$san" ]; then
			printf 'subjectAltName = %s\n' "$san"
		fi
	} >"$file"
}

# _pki_ca DIR BASE CN: a self-signed CA, BASE.key and BASE.crt.
_pki_ca() {
	local dir=$1 base=$2 cn=$3
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$dir/$base.key" 2>/dev/null || return 1
	openssl req -x509 -new -key "$dir/$base.key" -sha256 -days 3650 \
		-subj "/CN=$cn" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$dir/$base.crt" || return 1
}

# _pki_leaf DIR CA_BASE NAME SAN: NAME.key, NAME.crt signed by CA_BASE.
_pki_leaf() {
	local dir=$1 ca=$2 name=$3 san=$4
	local ext="$dir/.$name.ext" csr="$dir/.$name.csr"
	_pki_leaf_ext "$ext" "$san" || return 1
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$dir/$name.key" 2>/dev/null || return 1
	openssl req -new -key "$dir/$name.key" -subj "/CN=$name" \
		-out "$csr" || return 1
	openssl x509 -req -in "$csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -sha256 -days 825 \
		-extfile "$ext" -extensions leaf -out "$dir/$name.crt" \
		2>/dev/null || return 1
	rm -f "$ext" "$csr"
}

make_test_pki() {
	local dir=$1
	shift
	(
		umask 077
		set -e
		mkdir -p "$dir"
		_pki_ca "$dir" ca "secretbroker test CA"
		_pki_ca "$dir" foreign-ca "unrelated test CA"
		for name in "$@"; do
			_pki_leaf "$dir" ca "$name" \
				"DNS:$name,DNS:localhost,IP:127.0.0.1"
		done
		_pki_leaf "$dir" foreign-ca foreign \
			"DNS:foreign,DNS:localhost,IP:127.0.0.1"
	)
}

make_test_cert_cn_only() {
	local dir=$1 name=$2
	(
		umask 077
		set -e
		_pki_leaf "$dir" ca "$name" ""
	)
}
