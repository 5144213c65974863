#!/usr/bin/env bash
# Applies the sandbox schema migrations (here: lists them, as a dry run would).
#   ./db/migrate.sh --host HOST --database NAME
set -eu
host=""; database=""
while [ $# -gt 0 ]; do
  case "$1" in
    --host) host="$2"; shift 2 ;;
    --database) database="$2"; shift 2 ;;
    *) echo "migrate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$host" ] && [ -n "$database" ] || { echo "usage: migrate.sh --host HOST --database NAME" >&2; exit 2; }
for m in 0001_customers 0002_orders 0003_payments 0004_order_indexes; do
  echo "migrate: applied $m to $database on $host"
done
