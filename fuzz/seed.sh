#!/bin/sh
# Copies the shipped definitions and the broken fixtures into the seed corpus.
set -eu
cd "$(dirname "$0")/.."
out=fuzz/corpus/definitions
mkdir -p "$out"
for f in processes/*/*.yaml tests/fixtures/broken/*.yaml tests/fixtures/flows/*.yaml; do
    case "$f" in
        */calendars/*|*.tests.yaml) continue ;;
    esac
    cp "$f" "$out/$(echo "$f" | tr '/' '_')"
done
