#!/usr/bin/env bash
# Loads a fixture set into a sandbox database (here: says which files it would load).
#   ./db/load-fixtures.sh --set small|full --database NAME
set -eu
set_name=""; database=""
while [ $# -gt 0 ]; do
  case "$1" in
    --set) set_name="$2"; shift 2 ;;
    --database) database="$2"; shift 2 ;;
    *) echo "load-fixtures.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$set_name" in
  small) rows=250 ;;
  full) rows=25000 ;;
  *) echo "load-fixtures.sh: --set small or full" >&2; exit 2 ;;
esac
[ -n "$database" ] || { echo "usage: load-fixtures.sh --set small|full --database NAME" >&2; exit 2; }
for table in customers orders payments; do echo "fixtures: loaded $rows rows into $database.$table ($set_name)"; done
