#!/usr/bin/env bash
# Sets up and starts a samizdat node: installs the Debian packages it needs, builds a release
# build in build/, and starts samizdatd on loopback with its data in ./node-data (or $SZ_DATA).
# Until the node service exists it builds everything and says what is ready to use.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/install-deps.sh"
build=${SZ_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
data=${SZ_DATA:-$root/node-data}

echo "built: $build/client/samizdat  $build/daemon/samizdatd"
if "$build/daemon/samizdatd" --help 2>/dev/null | grep -q -- '--data'; then
    echo "starting: samizdatd --data $data (Ctrl-C stops it)"
    exec "$build/daemon/samizdatd" --data "$data" "$@"
fi
cat <<MSG
ready now (offline, on your own machine):
  samizdat keygen                          make a passphrase-protected signing key
  samizdat sign testimony FILE.json -o R   sign a testimony into a record file
  samizdat verify R | show R               check a record: signature, hash, schema
  samizdatd --check DIR | --backup DIR OUT offline maintenance of a node's store
not yet: the networked node service (samizdatd --data DIR); see the issues in progress.
MSG
