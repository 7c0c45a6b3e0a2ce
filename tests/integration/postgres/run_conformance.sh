#!/usr/bin/env bash
# conformance.postgres: runs sb-storage-conformance, unchanged, against the
# fixture's server, on a schema no earlier run used.
# A generous op_timeout_ms: the suite checks the contract, not timeouts
# (postgres.restart does), and CI machines can be very busy.
# Usage: run_conformance.sh SB_STORAGE_CONFORMANCE PLUGIN_DIR ENVFILE
set -euo pipefail
tool=$1 plugin_dir=$2 envfile=$3
# shellcheck disable=SC1090
. "$envfile"
schema="conf_$(date +%s)_$$"
exec "$tool" --plugin-dir "$plugin_dir" --plugin postgres \
	--set "conninfo=host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" \
	--set "schema=$schema" --set op_timeout_ms=15000
