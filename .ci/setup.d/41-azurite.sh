#!/usr/bin/env bash
# Azurite: the Azure Blob Storage emulator the object-store vault's tests start
# on 127.0.0.1. Installed with npm into
# ${TODOVAULT_TOOLS:-$HOME/.cache/todovault-ci}/azurite (the tests look there).
set -euo pipefail
AZURITE_VERSION=3.37.0
TOOLS="${TODOVAULT_TOOLS:-$HOME/.cache/todovault-ci}"
DIR="$TOOLS/azurite"
STAMP="$DIR/.installed-azurite-$AZURITE_VERSION"
if [ -x "$DIR/node_modules/.bin/azurite-blob" ] && [ -e "$STAMP" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
fi
mkdir -p "$DIR"
rm -rf "$DIR/node_modules" "$DIR"/.installed-azurite-*
npm install --prefix "$DIR" --no-audit --no-fund --silent "azurite@$AZURITE_VERSION"
test -x "$DIR/node_modules/.bin/azurite-blob"
touch "$STAMP"
echo "azurite $AZURITE_VERSION installed in $DIR"
