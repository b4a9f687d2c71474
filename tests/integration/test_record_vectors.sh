#!/usr/bin/env bash
# Checks proto/vectors/records.json with the independent Python verifier written from RECORD.md
# alone, so the C code and the spec cannot drift apart unnoticed.
set -euo pipefail
exec python3 "$SZ_SOURCE_DIR/proto/vectors/check_vectors.py" "$SZ_SOURCE_DIR/proto/vectors"
