#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs a command with a throwaway redis-server (redis_env.sh): REDIS_URL and REDIS_SOCK set.
# Fails (never skips) without redis-server.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/redis_env.sh"
dir=$(mktemp -d /tmp/kms-redis.XXXXXX)
trap 'redis_stop; rm -rf "$dir"' EXIT INT TERM
command -v redis-server >/dev/null || { echo "with_redis.sh: redis-server not installed" >&2; exit 1; }
redis_start "$dir"
"$@"
