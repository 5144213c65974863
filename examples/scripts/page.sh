#!/usr/bin/env bash
# Pages the on-call engineer of a service (here: prints the page; a real one calls the pager).
#   ./scripts/page.sh --service NAME WHAT...
set -eu
service=unknown
if [ "${1:-}" = --service ]; then service="$2"; shift 2; fi
[ $# -gt 0 ] || { echo "usage: page.sh --service NAME WHAT..." >&2; exit 2; }
echo "PAGE on-call for $service: $* needs a human (run ${RIVET_RUN_ID:-?})"
