#!/usr/bin/env bash
# The checkout service's build and test entry points (a stand-in: nothing is compiled or
# pushed, but every step says what it does and fails like the real one would).
#   ./ci.sh resolve REF      print the commit a branch, tag or commit names (7 hex digits)
#   ./ci.sh image IMAGE      build the image and push it (needs REGISTRY_TOKEN)
#   ./ci.sh test             run the test suite named by $SUITE (shard $TEST_SHARD)
set -euo pipefail
cd "$(dirname "$0")"
case "${1:-}" in
  resolve)
    ref="${2:?usage: ci.sh resolve REF}"
    # A made-up but stable commit per ref (cksum is in every POSIX system).
    printf '%s' "$ref" | cksum | awk '{ printf "%07x\n", $1 % 268435456 }'
    ;;
  image)
    image="${2:?usage: ci.sh image IMAGE}"
    [ -n "${REGISTRY_TOKEN:-}" ] || { echo "ci.sh: REGISTRY_TOKEN is not set; cannot push $image" >&2; exit 1; }
    echo "building $image from $(pwd)"
    echo "step 1/3: npm ci"
    echo "step 2/3: npm run build"
    echo "step 3/3: copy dist/ into the runtime image"
    echo "pushed $image (logged in to ${image%%/*} with \$REGISTRY_TOKEN)"
    ;;
  test)
    suite="${SUITE:?ci.sh test: set SUITE (unit, integration, contract)}"
    case "$suite" in
      unit) count=412 ;;
      integration) count=57 ;;
      contract) count=18 ;;
      *) echo "ci.sh: no test suite $suite" >&2; exit 1 ;;
    esac
    echo "running the $suite suite (shard ${TEST_SHARD:-0})"
    echo "$count passed, 0 failed"
    ;;
  *)
    echo "usage: ci.sh resolve REF | image IMAGE | test" >&2
    exit 2
    ;;
esac
