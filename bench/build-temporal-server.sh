#!/bin/sh
# Builds the Temporal server and its SQL tool, for the scale-out benchmark's production topology
# (Temporal persisting to PostgreSQL), from the Go module at the version the Temporal CLI v1.5.1
# embeds (its go.mod requires go.temporal.io/server v1.29.1). Cold, on 2 shared cores: about
# 15 minutes. The binaries land in .data/temporal-server-build/ as `server` and `sql`.
#   sh bench/build-temporal-server.sh
set -eu
cd "$(dirname "$0")/.."
version=v1.29.1
mkdir -p .data/temporal-server-build
GOBIN="$(pwd)/.data/temporal-server-build" go install \
  "go.temporal.io/server/cmd/server@$version" "go.temporal.io/server/cmd/tools/sql@$version"
ls -l .data/temporal-server-build
