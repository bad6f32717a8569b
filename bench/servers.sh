# SPDX-License-Identifier: Apache-2.0
# Sourced by bench/run_bsf.sh and bench/run_kms.sh (bash): starts the servers a load benchmark
# compares, on 127.0.0.1, in $tmp (which the caller creates and removes), and stops them.
#   srv_nginx_find               sets $nginx_bin, or exits 2 with the apt-get hint
#   srv_bsfd_start REALM ARGS..  imskms-bsfd on port 0 with a subscriber store $tmp/db under
#                                $tmp/kek and the PKI in $tmp/pki; sets $bsf_pid, $ub, $zn
#   srv_kmsd_start FQDN ARGS..   imskms-kmsd on port 0 (after srv_bsfd_start: Zn at $zn, the
#                                KMS's client certificate $tmp/pki/naf.*), keyring $tmp/keyring
#                                under $tmp/kek, state store $tmp/state.db, log $tmp/kmsd.log;
#                                sets $kms_pid, $kms
#   srv_nginx_start CONF_HTTP    nginx in the foreground (1 worker, no master, access log on,
#                                unlimited keep-alive) with the server-block lines CONF_HTTP,
#                                root $tmp/www; sets $ngx_pid, $ngx_port
#   srv_stop_all                 SIGTERM to whatever was started ($kms_pid, $bsf_pid, $ngx_pid,
#                                $floor_pid; the caller's EXIT trap)
# Callers define die() (message, exit 2).

srv_nginx_find() {
  nginx_bin=$(command -v nginx || true)
  [[ -z $nginx_bin && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
  if [[ -z $nginx_bin ]]; then
    echo "$0: nginx not found: the baseline needs it (apt-get install nginx-light)" >&2
    exit 2
  fi
}

srv_bsfd_start() {
  local realm=$1
  shift
  build/bin/imskms-bsfd --db "$tmp/db" --kek-file "$tmp/kek" --listen 127.0.0.1:0 --realm "$realm" \
    --zn-listen 127.0.0.1:0 --zn-cert "$tmp/pki/server.crt" --zn-key "$tmp/pki/server.key" \
    --zn-client-ca "$tmp/pki/ca.crt" "$@" 2>"$tmp/bsfd.log" &
  bsf_pid=$!
  for _ in $(seq 100); do
    grep -q 'zn listening' "$tmp/bsfd.log" && break
    sleep 0.05
  done
  ub=$(sed -n 's/.*ub listening on port \([0-9]*\).*/\1/p' "$tmp/bsfd.log")
  zn=$(sed -n 's/.*zn listening on port \([0-9]*\).*/\1/p' "$tmp/bsfd.log")
  [[ -n $ub && -n $zn ]] || die "imskms-bsfd did not start: $(cat "$tmp/bsfd.log")"
}

srv_kmsd_start() {
  local fqdn=$1
  shift
  build/bin/imskms-kmsd --listen 127.0.0.1:0 --fqdn "$fqdn" --bsf-zn "https://localhost:$zn" \
    --zn-cert "$tmp/pki/naf.crt" --zn-key "$tmp/pki/naf.key" --zn-ca "$tmp/pki/ca.crt" \
    --keyring "$tmp/keyring" --kek-file "$tmp/kek" --state-db "$tmp/state.db" "$@" \
    2>"$tmp/kmsd.log" &
  kms_pid=$!
  for _ in $(seq 100); do
    grep -q 'kms listening' "$tmp/kmsd.log" && break
    sleep 0.05
  done
  kms=$(sed -n 's/.*kms listening on port \([0-9]*\).*/\1/p' "$tmp/kmsd.log")
  [[ -n $kms ]] || die "imskms-kmsd did not start: $(cat "$tmp/kmsd.log")"
}

srv_nginx_start() {
  ngx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') ||
    die "no free port"
  mkdir -p "$tmp/www" "$tmp/nginx-tmp"
  cat >"$tmp/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log $tmp/nginx-access.log;
    client_body_temp_path $tmp/nginx-tmp/body;
    proxy_temp_path $tmp/nginx-tmp/proxy;
    fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx-tmp/uwsgi;
    scgi_temp_path $tmp/nginx-tmp/scgi;
    types { text/plain txt; application/vnd.3gpp.bsf+xml xml; application/mikey bin; }
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$ngx_port;
        root $tmp/www;
        add_header Cache-Control no-store;
$1
    }
}
CONF
  "$nginx_bin" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" 2>"$tmp/nginx-stderr.log" &
  ngx_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$ngx_port/" && break
    sleep 0.05
  done
}

srv_stop_all() {
  local p
  for p in ${kms_pid:-} ${bsf_pid:-} ${ngx_pid:-} ${floor_pid:-}; do
    kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
}
