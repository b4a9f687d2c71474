#!/usr/bin/env bash
# Sets up and starts a samizdat node: installs the Debian packages it needs, builds a release
# build in build/, and starts samizdatd on loopback with its data in ./node-data (or $SZ_DATA).
# Extra arguments go to samizdatd (for example --listen 127.0.0.1:7500).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/install-deps.sh"
build=${SZ_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target samizdat samizdatd >/dev/null
data=${SZ_DATA:-$root/node-data}

cat <<MSG
built: $build/client/samizdat and $build/daemon/samizdatd
starting: samizdatd --data $data  (loopback, 127.0.0.1:7433 unless --listen says otherwise; Ctrl-C stops it)
then, in another terminal (README.md walks through the rest):
  export PATH=$build/client:\$PATH SAMIZDAT_NODE=\$(cat $data/invite)
  samizdat keygen && samizdat submit testimony $root/schema/examples/testimony-minimal.json
MSG
exec "$build/daemon/samizdatd" --data "$data" "$@"
