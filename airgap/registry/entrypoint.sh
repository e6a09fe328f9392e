#!/bin/sh
# Upstream's entrypoint: a config path means `registry serve <path>`, a sub-command or flag
# means `registry <args>`, anything else runs as given.
set -e

case "${1:-}" in
  *.yaml|*.yml) set -- registry serve "$@" ;;
  serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac

exec "$@"
