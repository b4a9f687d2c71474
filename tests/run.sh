#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds with ASan+UBSan and -Werror, runs CTest
# (unit tests, conformance vectors, fuzz corpus replay, integration tests against real daemons).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/install-deps.sh"
build=${SZ_BUILD_DIR:-$root/build-test}
cmake -S "$root" -B "$build" -DSZ_SANITIZE=ON -DSZ_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
# Test with the system python3 and its Debian packages, as a fresh machine has them, even where
# another python3 (pyenv, a virtualenv) comes first on PATH.
export PATH=/usr/bin:/bin:$PATH
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure -j"$(nproc)" "$@"

# The threaded parts (verification workers and group commit, replication, the store's readers
# and writer) once more under ThreadSanitizer, which cannot be combined with ASan.
# A machine whose kernel ThreadSanitizer cannot run on (its address-space layout) skips this
# stage with a message, rather than failing the suite for a reason that is not in the code.
tsan_runs() {
    local probe
    probe=$(mktemp -d)
    printf 'int main(void) { return 0; }\n' >"$probe/p.c"
    cc -fsanitize=thread "$probe/p.c" -o "$probe/p" 2>/dev/null && "$probe/p" 2>/dev/null
    local rc=$?
    rm -rf "$probe"
    return $rc
}
if [ "${SZ_SKIP_TSAN:-0}" != 1 ] && ! tsan_runs; then
    echo "tests/run.sh: ThreadSanitizer does not run on this machine; skipping the TSan stage" >&2
elif [ "${SZ_SKIP_TSAN:-0}" != 1 ]; then
    tsan=${SZ_TSAN_BUILD_DIR:-$root/build-tsan}
    cmake -S "$root" -B "$tsan" -DSZ_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_C_FLAGS="-fsanitize=thread -O1 -g" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
    threaded=(test_server test_sync test_store test_store_migrate)
    cmake --build "$tsan" -j"$(nproc)" --target samizdatd samizdat "${threaded[@]}"
    cd "$tsan"
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} \
        ctest --output-on-failure -j"$(nproc)" -R "^($(IFS='|'; echo "${threaded[*]}"))\$"
fi
