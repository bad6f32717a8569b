#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Redis AUTH with an ACL user (the other Redis tests use the default user): a throwaway
# redis-server on a free loopback port and its unix socket, with an ACL user `kms`; `imskms kue
# list` with redis://kms@HOST:PORT, and with unix://kms@/PATH, and the right password works, with
# a wrong one it is refused in one line (exit 3, AUTH refused), a user without a password file
# is a usage error, and the default user with requirepass works without a user in the URL. AUTH is written from a buffer kms_redis wipes (lib/redis/kms_redis.c auth_direct).
# Usage: test_cli_redis_auth.sh IMSKMS
set -u
B=$1
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=../integration/redis_env.sh
. "$(dirname "$0")/../integration/redis_env.sh"
rdir=$(mktemp -d /tmp/kms-redis.XXXXXX)
trap 'redis_stop; rm -rf "$tmp" "$rdir"' EXIT
# A free port: redis-server cannot take port 0 for TCP, so pick one and retry if it is taken.
port=""
for _ in 1 2 3 4 5; do
    p=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if redis_start "$rdir" --port "$p" --bind 127.0.0.1 2>/dev/null; then
        port=$p
        break
    fi
done
[ -n "$port" ] || { echo "FAIL: no redis-server on a TCP port" >&2; exit 1; }
redis_cli acl setuser kms on '>s3cret' '~imskms:kms:*' '+@all' >/dev/null
head -c 32 /dev/urandom >"$tmp/kek"
printf 's3cret\n' >"$tmp/pw"
printf 'wrong\n' >"$tmp/bad"
printf 'topsecret\n' >"$tmp/dpw"
chmod 600 "$tmp/kek" "$tmp/pw" "$tmp/bad" "$tmp/dpw"

run 0 "kms@TCP, right password" "$B" kue list --redis "redis://kms@127.0.0.1:$port" \
    --redis-password-file "$tmp/pw" --kek-file "$tmp/kek"
run 3 "kms@TCP, wrong password" "$B" kue list --redis "redis://kms@127.0.0.1:$port" \
    --redis-password-file "$tmp/bad" --kek-file "$tmp/kek"
expect_err "AUTH refused (user or password)" "kms@TCP, wrong password"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && ok || bad "wrong password: not one line: $(cat "$tmp/err")"
run 0 "kms@unix, right password" "$B" kue list --redis "unix://kms@$REDIS_SOCK" \
    --redis-password-file "$tmp/pw" --kek-file "$tmp/kek"
run 3 "kms@unix, wrong password" "$B" kue list --redis "unix://kms@$REDIS_SOCK?db=0" \
    --redis-password-file "$tmp/bad" --kek-file "$tmp/kek"
expect_err "AUTH refused (user or password)" "kms@unix, wrong password"
run 2 "kms@unix, no password file" "$B" kue list --redis "unix://kms@$REDIS_SOCK" \
    --kek-file "$tmp/kek"
expect_err "--redis-password-file" "kms@unix, no password file"
redis_cli config set requirepass topsecret >/dev/null
run 0 "default user, requirepass" "$B" kue list --redis "redis://127.0.0.1:$port" \
    --redis-password-file "$tmp/dpw" --kek-file "$tmp/kek"
run 3 "default user, no password" "$B" kue list --redis "redis://127.0.0.1:$port" \
    --kek-file "$tmp/kek"
redis_cli -a topsecret --no-auth-warning config set requirepass '' >/dev/null

finish test_cli_redis_auth
