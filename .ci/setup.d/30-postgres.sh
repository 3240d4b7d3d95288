#!/usr/bin/env bash
# PostgreSQL for the postgres store's tests and benchmark: a server on
# 127.0.0.1:5432 with trust authentication for local TCP connections and a
# `test` database. Installs Debian's postgresql package when the cluster tools
# are missing, starts the newest cluster when it is not running, and does
# nothing when the server already answers.
set -euo pipefail

HOST=127.0.0.1
PORT=5432

answers() {
    psql -h "$HOST" -p "$PORT" -U postgres -d test -tAc 'SELECT 1' >/dev/null 2>&1
}

if command -v psql >/dev/null 2>&1 && answers; then
    exit 0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi

VERSION="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$VERSION" ]; then
    VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
fi
if [ ! -d "/etc/postgresql/$VERSION/main" ]; then
    pg_createcluster "$VERSION" main --port "$PORT"
fi

CONF_DIR="/etc/postgresql/$VERSION/main"
HBA="$CONF_DIR/pg_hba.conf"
# Trust on loopback TCP comes first, so it wins over any password rule.
if ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$HBA"; then
    {
        echo "host all all 127.0.0.1/32 trust"
        echo "host all all ::1/128 trust"
        cat "$HBA"
    } >"$HBA.new"
    mv "$HBA.new" "$HBA"
    chown postgres:postgres "$HBA" 2>/dev/null || true
    RELOAD=1
fi
if ! grep -Eq '^local[[:space:]]+all[[:space:]]+postgres[[:space:]]+(peer|trust)' "$HBA" &&
    ! grep -Eq '^local[[:space:]]+all[[:space:]]+all[[:space:]]+(peer|trust)' "$HBA"; then
    sed -i '1i local all postgres peer' "$HBA"
    RELOAD=1
fi

STATUS="$(pg_lsclusters --no-header | awk -v v="$VERSION" '$1 == v && $2 == "main" { print $4 }')"
if [ "$STATUS" != "online" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start
elif [ "${RELOAD:-0}" = 1 ]; then
    pg_ctlcluster --skip-systemctl-redirect "$VERSION" main reload
fi

for _ in $(seq 1 60); do
    if pg_isready -h "$HOST" -p "$PORT" -q; then
        break
    fi
    sleep 0.5
done
pg_isready -h "$HOST" -p "$PORT" -q || {
    echo "PostgreSQL did not start on $HOST:$PORT; see /var/log/postgresql/" >&2
    exit 1
}

# The `test` database, over the local socket as the postgres superuser.
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1; then
    su postgres -c "createdb test"
fi
answers || {
    echo "PostgreSQL runs but $HOST:$PORT/test does not accept user postgres with trust authentication" >&2
    exit 1
}
echo "PostgreSQL $VERSION ready on $HOST:$PORT (database test, trust authentication)"
