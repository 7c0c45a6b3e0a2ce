#!/usr/bin/env bash
# fencing.lease.postgres: sb-fencing-lease-cluster, unchanged, on the
# postgres fixture's server (tests/fixtures/postgres.sh), on a schema no
# earlier run used. The nodes wait up to 2 s for a statement; the driver's
# own instance 100 ms (its pause probe must not wait behind a stopped
# node's open transaction). On failure, prints the server log.
# Usage: lease_postgres.sh CLUSTER_TOOL PLUGIN_DIR ENVFILE FIXTURE
set -uo pipefail
tool=$1 plugin_dir=$2 envfile=$3 fixture=$4
# shellcheck disable=SC1090
. "$envfile" || { echo "no postgres fixture state in $envfile" >&2; exit 1; }
schema="lease_$(date +%s)_$$"
rc=0
"$tool" --plugin-dir "$plugin_dir" --plugin postgres \
	--set "conninfo=host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" \
	--set "schema=$schema" --set op_timeout_ms=2000 \
	--driver-set op_timeout_ms=100 || rc=$?
[ $rc -eq 0 ] || bash "$fixture" log "$envfile"
exit $rc
