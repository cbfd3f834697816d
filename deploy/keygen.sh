#!/bin/sh
# Generates the development RS256 key pair into /keys once (compose's `keygen`
# service). Production keys come from a secret store, never from here.
set -eu
if [ ! -s /keys/jwt-private.pem ]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out /keys/jwt-private.pem
  openssl pkey -in /keys/jwt-private.pem -pubout -out /keys/jwt-public.pem
fi
# Services run as uid 10001; the private key is readable by them only.
chown 10001:10001 /keys/jwt-private.pem /keys/jwt-public.pem
chmod 600 /keys/jwt-private.pem
chmod 644 /keys/jwt-public.pem
