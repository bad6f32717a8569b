#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `imskms keys` and `imskms token` on the keyring in Redis (--keyring redis), against a
# throwaway redis-server (tests/integration/redis_env.sh): a file keyring copied to Redis and
# back (the same key list, the same bytes, tokens still open), init/list/rotate/revoke through
# Redis, and the refusals (no --redis, --redis with a file, --hsm, a Redis that is not
# durable, a copy over an existing keyring, a keyring gone from Redis).
# Usage: test_cli_keys_redis.sh IMSKMS
set -u
B=$1
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=../integration/redis_env.sh
. "$(dirname "$0")/../integration/redis_env.sh"
rdir=$(mktemp -d /tmp/kms-redis.XXXXXX)
trap 'redis_stop; rm -rf "$tmp" "$rdir"' EXIT
redis_start "$rdir" || { echo "FAIL: no redis-server" >&2; exit 1; }
head -c 32 /dev/urandom >"$tmp/kek"
chmod 600 "$tmp/kek"
K="--kek-file $tmp/kek"
R="--redis $REDIS_URL"
KR=$tmp/keyring

# ---- usage ----
run 0 "keys copy --help" "$B" keys copy --help && grep -q '^usage:' "$tmp/out" || bad "copy --help"
# shellcheck disable=SC2086
run 2 "redis keyring without --redis" "$B" keys list --keyring redis $K
expect_err "--keyring redis needs --redis URL" "redis keyring without --redis"
# shellcheck disable=SC2086
run 2 "--redis with a file keyring" "$B" keys list --keyring "$KR" $K $R
expect_err "--redis: only with --keyring redis" "--redis with a file keyring"
# shellcheck disable=SC2086
run 2 "redis keyring with --hsm" "$B" keys list --keyring redis --hsm pkcs11:token=x $R
expect_err "the file keystore only" "redis keyring with --hsm"
# shellcheck disable=SC2086
run 2 "bad --redis URL" "$B" keys list --keyring redis $K --redis http://x
expect_err "expected redis://" "bad --redis URL"
# shellcheck disable=SC2086
run 2 "no keyring in Redis" "$B" keys list --keyring redis $K $R
expect_err "Redis holds no keyring" "no keyring in Redis"
# shellcheck disable=SC2086
run 2 "copy with neither side redis" "$B" keys copy --from "$KR" --to "$tmp/x" $K $R
expect_err "exactly one of --from and --to" "copy with neither side redis"
redis_cli config set appendfsync everysec >/dev/null
# shellcheck disable=SC2086
run 3 "a Redis that is not durable" "$B" keys list --keyring redis $K $R
expect_err "appendfsync always" "a Redis that is not durable"
redis_cli config set appendfsync always >/dev/null

# ---- a file keyring with a revoked key and tokens, copied to Redis ----
# shellcheck disable=SC2086
run 0 "init file" "$B" keys init --keyring "$KR" $K --lifetime 3600 --grace 600
# shellcheck disable=SC2086
run 0 "seal under key 1" "$B" token seal --keyring "$KR" $K --impi alice@ims.example.org --lifetime 600
T1=$(field token)
# shellcheck disable=SC2086
run 0 "revoke key 1" "$B" keys revoke --keyring "$KR" $K 1
# shellcheck disable=SC2086
run 0 "seal under key 2" "$B" token seal --keyring "$KR" $K --impi bob@ims.example.org --lifetime 600
T2=$(field token)
# shellcheck disable=SC2086
run 0 "list file" "$B" keys list --keyring "$KR" $K
sed 's/ seals=[0-9]*//' "$tmp/out" >"$tmp/list_file"
# shellcheck disable=SC2086
run 0 "copy to redis" "$B" keys copy --from "$KR" --to redis $K $R
expect_field to redis "copy to redis"
[ "$(redis_cli --no-raw strlen 'imskms:kms:{keyring}:image')" = "(integer) $(stat -c %s "$KR")" ] && ok ||
    bad "the image in Redis is not the file's size"
# shellcheck disable=SC2086
run 2 "copy again" "$B" keys copy --from "$KR" --to redis $K $R
expect_err "Redis holds a keyring already" "copy again"
# shellcheck disable=SC2086
run 2 "init over the keyring in Redis" "$B" keys init --keyring redis $K $R --lifetime 1 --grace 1
expect_err "never overwritten" "init over the keyring in Redis"
# shellcheck disable=SC2086
run 0 "list redis" "$B" keys list --keyring redis $K $R
sed 's/ seals=[0-9]*//' "$tmp/out" >"$tmp/list_redis"
cmp -s "$tmp/list_file" "$tmp/list_redis" && ok || bad "key lists differ: $(diff "$tmp/list_file" "$tmp/list_redis")"
# shellcheck disable=SC2086
run 1 "token under revoked key 1" "$B" token open --keyring redis $K $R "$T1"
# shellcheck disable=SC2086
run 0 "token under key 2 opens from Redis" "$B" token open --keyring redis $K $R "$T2"
expect_field impi bob@ims.example.org "token under key 2 opens from Redis"

# ---- changes through Redis ----
# shellcheck disable=SC2086
run 0 "rotate in redis" "$B" keys rotate --keyring redis $K $R
expect_field key_id 3 "rotate in redis"
# shellcheck disable=SC2086
run 0 "seal under key 3 in redis" "$B" token seal --keyring redis $K $R --impi carol@ims.example.org --lifetime 600
T3=$(field token)
expect_field key_id 3 "seal under key 3 in redis"
# shellcheck disable=SC2086
run 0 "status in redis" "$B" keys status --keyring redis $K $R
expect_field active_key 3 "status in redis"
[ "$(redis_cli get 'imskms:kms:{keyring}:gen')" = "$(field generation)" ] && ok ||
    bad "the generation key is not the keyring's generation"

# ---- back to a file: the same keys, the tokens open there ----
# shellcheck disable=SC2086
run 2 "copy back over the file" "$B" keys copy --from redis --to "$KR" $K $R
expect_err "file exists" "copy back over the file"
# shellcheck disable=SC2086
run 0 "copy back" "$B" keys copy --from redis --to "$tmp/back" $K $R
[ -e "$tmp/back.anchor" ] && ok || bad "copy back wrote no anchor"
[ "$(stat -c %a "$tmp/back")" = 600 ] && ok || bad "the copied keyring is not 0600"
# shellcheck disable=SC2086
run 0 "list back" "$B" keys list --keyring "$tmp/back" $K
# shellcheck disable=SC2086
run 0 "list redis again" "$B" keys list --keyring redis $K $R
cp "$tmp/out" "$tmp/list_redis2"
# shellcheck disable=SC2086
"$B" keys list --keyring "$tmp/back" $K >"$tmp/list_back"
cmp -s "$tmp/list_back" "$tmp/list_redis2" && ok || bad "key lists differ after the copy back"
# shellcheck disable=SC2086
run 0 "token under key 2 opens from the copy" "$B" token open --keyring "$tmp/back" $K "$T2"
# shellcheck disable=SC2086
run 0 "token under key 3 opens from the copy" "$B" token open --keyring "$tmp/back" $K "$T3"
# shellcheck disable=SC2086
run 1 "token under key 1 still refused" "$B" token open --keyring "$tmp/back" $K "$T1"

# ---- gone from Redis: refused, never re-created by a command that is not init/copy ----
redis_cli del 'imskms:kms:{keyring}:image' >/dev/null
# shellcheck disable=SC2086
run 2 "rotate with the keyring gone" "$B" keys rotate --keyring redis $K $R
expect_err "Redis holds no keyring" "rotate with the keyring gone"
[ "$(redis_cli exists 'imskms:kms:{keyring}:image')" = 0 ] && ok || bad "the keyring came back"

finish test_cli_keys_redis
