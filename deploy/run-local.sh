#!/usr/bin/env bash
# The production topology on one machine, from Debian packages (redis-server, haproxy,
# openssl) and this checkout: one Redis, two gateway instances, HAProxy in front with
# deploy/haproxy.cfg. Everything it starts is stopped when it exits (Ctrl-C, SIGTERM), in
# the order a production stop takes: the gateways first (they drain: requests in flight are
# answered and websockets closed 1012 while HAProxy still carries them), then HAProxy by its
# soft stop (SIGUSR1), then Redis. It exits non-zero if a gateway did not exit 0.
#
#   deploy/run-local.sh      # then: curl http://127.0.0.1:8080/readyz
#
# Settings, from the environment (defaults in brackets):
#   LB_PORT [8080], LB_TLS_PORT [8443]       where HAProxy listens (plain HTTP, TLS)
#   LB_CERT                                  certificate + key PEM for TLS [a throw-away
#                                            self-signed one, made here with openssl]
#   GATEWAY1_PORT [8081], GATEWAY2_PORT [8082], REDIS_PORT [6380]
#   HAPROXY_CONFIG [deploy/haproxy.cfg]      the configuration HAProxy runs
#   RUN_DIR [a new temporary directory]      logs (*.log), start-up lines (*.out), pids
#                                            (*.pid), each gateway's exit status once it
#                                            has exited (gateway*.status), HAProxy's
#                                            runtime API (haproxy.sock)
#   PYTHON [python3]                         the interpreter that runs `-m gateway`
#   GATEWAY_*                                passed to both gateways; GATEWAY_ADMIN_KEY,
#                                            GATEWAY_JWT_SECRET and GATEWAY_MASTER_KEYS are
#                                            generated (and printed) when unset, and
#                                            GATEWAY_TRUSTED_PROXIES defaults to 127.0.0.1
# It prints `ready: ...` once HAProxy answers /readyz through both instances.
set -euo pipefail
cd "$(dirname "$0")/.."

LB_PORT=${LB_PORT:-8080}
LB_TLS_PORT=${LB_TLS_PORT:-8443}
GATEWAY1_PORT=${GATEWAY1_PORT:-8081}
GATEWAY2_PORT=${GATEWAY2_PORT:-8082}
REDIS_PORT=${REDIS_PORT:-6380}
HAPROXY_CONFIG=${HAPROXY_CONFIG:-deploy/haproxy.cfg}
PYTHON=${PYTHON:-python3}
RUN_DIR=${RUN_DIR:-$(mktemp -d -t gateway-local.XXXXXX)}
mkdir -p "$RUN_DIR/redis"

redis_pid=
gateway_watchers=()
haproxy_pid=
stop_all() {
    local status=$? n watcher code
    trap - EXIT INT TERM
    # The gateways drain while HAProxy still carries their websockets and answers. The pid
    # files say which process serves now: one started in its place (a rolling restart) is
    # signalled too, though not waited for (it is not this script's).
    for n in 1 2; do
        if [ -s "$RUN_DIR/gateway$n.pid" ]; then
            kill -TERM "$(cat "$RUN_DIR/gateway$n.pid")" 2>/dev/null || true
        fi
    done
    for watcher in "${gateway_watchers[@]}"; do
        wait "$watcher" 2>/dev/null || true
    done
    for n in 1 2; do
        code=$(cat "$RUN_DIR/gateway$n.status" 2>/dev/null || echo 0)
        if [ "$code" -ne 0 ]; then
            echo "run-local: gateway $n exited with status $code" >&2
            status=1
        fi
    done
    # A soft stop: HAProxy closes its listeners and ends once its connections have
    # (hard-stop-after bounds it). SIGTERM would cut them at once.
    if [ -n "$haproxy_pid" ]; then
        kill -USR1 "$haproxy_pid" 2>/dev/null || true
        wait "$haproxy_pid" 2>/dev/null || true
    fi
    if [ -n "$redis_pid" ]; then
        kill -TERM "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    exit "$status"
}
trap stop_all EXIT
trap 'exit 0' INT TERM

wait_for() {  # wait_for WHAT SECONDS COMMAND...
    local what=$1 seconds=$2
    shift 2
    for _ in $(seq $((seconds * 10))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "run-local: $what did not come up; see $RUN_DIR" >&2
    exit 1
}

secret() { "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
if [ -z "${GATEWAY_ADMIN_KEY:-}" ]; then
    GATEWAY_ADMIN_KEY=$(secret)
    echo "admin key: $GATEWAY_ADMIN_KEY"
fi
export GATEWAY_ADMIN_KEY
export GATEWAY_JWT_SECRET=${GATEWAY_JWT_SECRET:-$(secret)}
export GATEWAY_MASTER_KEYS=${GATEWAY_MASTER_KEYS:-$(secret)}
export GATEWAY_TRUSTED_PROXIES=${GATEWAY_TRUSTED_PROXIES:-127.0.0.1}
export GATEWAY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0

if [ -z "${LB_CERT:-}" ]; then
    LB_CERT=$RUN_DIR/lb.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=localhost -keyout "$RUN_DIR/lb.key" -out "$RUN_DIR/lb.crt" 2>/dev/null
    cat "$RUN_DIR/lb.crt" "$RUN_DIR/lb.key" > "$LB_CERT"
fi

# Redis as the gateway needs it: nothing evicted, every write in the append-only file.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" \
    --maxmemory-policy noeviction --appendonly yes --appendfsync everysec --save "" \
    >"$RUN_DIR/redis.log" 2>&1 &
redis_pid=$!
echo $! > "$RUN_DIR/redis.pid"
wait_for redis-server 10 redis-cli -p "$REDIS_PORT" ping

for n in 1 2; do
    port_var=GATEWAY${n}_PORT
    (   # a watcher, so that the gateway's exit status is kept (gateway$n.status)
        "$PYTHON" -m gateway serve --host 127.0.0.1 --port "${!port_var}" \
            >"$RUN_DIR/gateway$n.out" 2>"$RUN_DIR/gateway$n.log" &
        echo $! > "$RUN_DIR/gateway$n.pid.new"
        mv "$RUN_DIR/gateway$n.pid.new" "$RUN_DIR/gateway$n.pid"
        code=0
        wait $! || code=$?
        echo "$code" > "$RUN_DIR/gateway$n.status"
    ) &
    gateway_watchers+=($!)
done
for n in 1 2; do
    port_var=GATEWAY${n}_PORT
    wait_for "gateway $n" 60 curl -sf "http://127.0.0.1:${!port_var}/readyz"
done

LB_HTTP_BIND=127.0.0.1:$LB_PORT LB_HTTPS_BIND=127.0.0.1:$LB_TLS_PORT LB_CERT=$LB_CERT \
GATEWAY1_ADDR=127.0.0.1:$GATEWAY1_PORT GATEWAY2_ADDR=127.0.0.1:$GATEWAY2_PORT \
LB_ADMIN_SOCKET=$RUN_DIR/haproxy.sock \
    haproxy -db -f "$HAPROXY_CONFIG" >"$RUN_DIR/haproxy.log" 2>&1 &
haproxy_pid=$!
echo $! > "$RUN_DIR/haproxy.pid"
wait_for haproxy 10 curl -sf "http://127.0.0.1:$LB_PORT/readyz"

echo "ready: http://127.0.0.1:$LB_PORT https://127.0.0.1:$LB_TLS_PORT (logs in $RUN_DIR)"
# Until Ctrl-C or SIGTERM (or every process has ended).
wait
