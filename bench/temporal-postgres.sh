#!/bin/sh
# Sets up the schema of a Temporal server persisting to PostgreSQL with temporal-sql-tool and the
# schemas built into it, the same steps as the compose file's temporal-schema service:
#   sh bench/temporal-postgres.sh SQL_TOOL HOST PORT USER DATABASE VISIBILITY_DATABASE
# Idempotent: creating a database or its versioning tables twice fails harmlessly, and
# update-schema brings whatever is there to the tool's version.
set -eu
tool=$1 host=$2 port=$3 user=$4 database=$5 visibility=$6
for pair in "$database:temporal" "$visibility:visibility"; do
  db=${pair%%:*} schema=${pair#*:}
  "$tool" --plugin postgres12 --ep "$host" -p "$port" -u "$user" --db "$db" create-database 2>/dev/null || true
  "$tool" --plugin postgres12 --ep "$host" -p "$port" -u "$user" --db "$db" setup-schema -v 0.0 2>/dev/null || true
  "$tool" --plugin postgres12 --ep "$host" -p "$port" -u "$user" --db "$db" update-schema --schema-name "postgresql/v12/$schema"
done
