#!/usr/bin/env bash
# git: the git source's tests build fixture repositories with it, serve them
# with `git http-backend`, and fetch file:// URLs through `git upload-pack`;
# its benchmark compares against `git clone`. The library itself needs no
# git binary for https://.
set -euo pipefail
if command -v git >/dev/null 2>&1 && [ -x "$(git --exec-path)/git-http-backend" ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq git >/dev/null
git --version
