#!/usr/bin/env bash
# moto in server mode: the S3-compatible server the object-store vault's tests
# and benchmark start on 127.0.0.1. Installed into a virtualenv at
# ${TODOVAULT_TOOLS:-$HOME/.cache/todovault-ci}/moto-venv (the tests look there).
set -euo pipefail
MOTO_VERSION=5.2.5
TOOLS="${TODOVAULT_TOOLS:-$HOME/.cache/todovault-ci}"
VENV="$TOOLS/moto-venv"
STAMP="$VENV/.installed-moto-$MOTO_VERSION"
if [ -x "$VENV/bin/python" ] && [ -e "$STAMP" ]; then
    exit 0
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
mkdir -p "$TOOLS"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[s3,server]==$MOTO_VERSION"
"$VENV/bin/python" -c 'import moto.server' >/dev/null
touch "$STAMP"
echo "moto $MOTO_VERSION installed in $VENV"
