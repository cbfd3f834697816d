#!/bin/sh
# Kong's entrypoint in compose: puts the users service's RSA public key into the
# declarative config, then starts Kong. kong.yml carries the placeholder
# JWT_PUBLIC_KEY_PLACEHOLDER where the PEM goes (see README, "Kong").
set -eu
key_file="${JWT_PUBLIC_KEY_FILE:-/keys/jwt-public.pem}"
for _ in $(seq 1 60); do [ -s "$key_file" ] && break; sleep 1; done
[ -s "$key_file" ] || { echo "no public key at $key_file" >&2; exit 1; }
# Indent the PEM as a YAML block scalar under rsa_public_key.
pem=$(sed 's/^/          /' "$key_file")
awk -v pem="$pem" '{ if ($0 ~ /JWT_PUBLIC_KEY_PLACEHOLDER/) print pem; else print }' \
  /kong-src/kong.yml > /tmp/kong.yml
export KONG_DECLARATIVE_CONFIG=/tmp/kong.yml
exec /docker-entrypoint.sh kong docker-start
