#!/bin/sh
# Like upstream's entrypoint: flags alone mean "redis-server with these flags", and without a
# config file that sets it, protected mode is off so other containers can connect.
set -eu

case "${1:-}" in
  -*|*.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ]; then
  shift
  config=""
  if [ -n "${1:-}" ] && [ -f "$1" ]; then
    config="$1"
    shift
  fi
  protected="--protected-mode no"
  if [ -n "$config" ] && grep -q '^protected-mode' "$config"; then
    protected=""
  fi
  # shellcheck disable=SC2086  # $protected is two words or none on purpose
  set -- redis-server ${config:+"$config"} $protected "$@"
fi

exec "$@"
