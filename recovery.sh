#!/usr/bin/env bash
# One entry point for ops and developers.
#
#   ./recovery.sh run      set up everything, start the four services, run the demo council
#   ./recovery.sh test     set up everything and run the whole test suite (lint, types, tests)
#   ./recovery.sh bench    set up everything and run the benchmarks
#   ./recovery.sh setup    install Python packages, start Kafka and PostgreSQL, create topics
#   ./recovery.sh services start the four services in the background (logs under var/log)
#   ./recovery.sh stop     stop the services, Kafka and PostgreSQL
#   ./recovery.sh docs     regenerate each service's AsyncAPI document
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
REPO="$PWD"
SERVICES=(payments arrangements enforcement notices)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

uv_cmd() {
    if command -v uv >/dev/null 2>&1; then
        uv "$@"
    else
        python3 -m uv "$@"
    fi
}

ensure_uv() {
    if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
        say "installing uv (Python package manager) from PyPI"
        python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
    fi
}

docker_reachable() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

setup() {
    ensure_uv
    say "installing the workspace (uv sync)"
    uv_cmd sync --all-packages --frozen --quiet
    if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
        say "starting Kafka (deploy/kafka.sh)"
        bash deploy/kafka.sh start
        export KAFKA_BOOTSTRAP_SERVERS="$(bash deploy/kafka.sh bootstrap)"
    fi
    if [[ -z "${TEST_POSTGRES_URL:-}" ]]; then
        say "starting PostgreSQL (deploy/postgres.sh)"
        bash deploy/postgres.sh start
        export TEST_POSTGRES_URL="$(bash deploy/postgres.sh url postgres)"
    fi
    say "creating topics on $KAFKA_BOOTSTRAP_SERVERS"
    uv_cmd run --frozen python -m recovery_shared.admin
}

run_tests() {
    ensure_uv
    uv_cmd sync --all-packages --frozen --quiet
    if docker_reachable && [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" && -z "${TEST_POSTGRES_URL:-}" ]]; then
        say "Docker engine found: the tests will use testcontainers"
    else
        setup
    fi
    say "ruff"
    uv_cmd run --frozen ruff check .
    uv_cmd run --frozen ruff format --check .
    say "mypy"
    uv_cmd run --frozen mypy shared/src services/*/src
    say "pytest"
    uv_cmd run --frozen pytest "$@"
}

start_services() {
    mkdir -p var/log var/pids
    export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-$(bash deploy/kafka.sh bootstrap)}"
    for s in "${SERVICES[@]}"; do
        pidfile="var/pids/$s.pid"
        if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            say "$s already running (pid $(cat "$pidfile"))"
            continue
        fi
        upper="$(echo "$s" | tr '[:lower:]' '[:upper:]')"
        if [[ "${RECOVERY_DATABASE:-sqlite}" == postgresql ]]; then
            export "${upper}_DATABASE_URL=$(bash deploy/postgres.sh url "$s")"
        fi
        nohup uv_cmd run --frozen "recovery-$s" >>"var/log/$s.log" 2>&1 &
        echo $! >"$pidfile"
        say "started $s (pid $!, log var/log/$s.log)"
    done
}

stop_services() {
    for s in "${SERVICES[@]}"; do
        pidfile="var/pids/$s.pid"
        if [[ -f "$pidfile" ]]; then
            kill "$(cat "$pidfile")" 2>/dev/null || true
            rm -f "$pidfile"
        fi
    done
}

docs() {
    for s in "${SERVICES[@]}"; do
        uv_cmd run --frozen faststream docs gen --factory "recovery_$s.app:asyncapi_app" --out "services/$s/asyncapi.json"
        # FastStream orders channels by hash (it changes with PYTHONHASHSEED): keys are
        # sorted so a document changes only when the service's contract does.
        uv_cmd run --frozen python -c 'import json, sys; p = sys.argv[1]; d = json.load(open(p)); open(p, "w").write(json.dumps(d, indent=2, sort_keys=True) + "\n")' "services/$s/asyncapi.json"
    done
}

command="${1:-help}"
shift || true
case "$command" in
    setup) setup ;;
    test) run_tests "$@" ;;
    services) setup; start_services ;;
    run)
        setup
        say "running the demo council (python -m demo)"
        uv_cmd run --frozen python -m demo "$@"
        ;;
    bench)
        setup
        uv_cmd run --frozen python -m benchmarks "$@"
        ;;
    docs) docs ;;
    stop)
        stop_services
        bash deploy/kafka.sh stop || true
        bash deploy/postgres.sh stop || true
        ;;
    *)
        sed -n '2,11p' "$0"
        ;;
esac
