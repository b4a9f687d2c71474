#!/usr/bin/env bash
# Installs the Debian packages samizdat builds and tests with, only if any is missing.
set -euo pipefail
packages=(gcc make cmake pkg-config procps python3 python3-jsonschema python3-cryptography
          libuv1-dev libsodium-dev liblmdb-dev libcmocka-dev libjansson-dev libssl-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
