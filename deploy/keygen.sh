#!/bin/sh
# Generates the development RS256 key pair once (compose's `keygen` service):
# the private key into /private (the `jwt-private` volume, mounted into the
# users service only) and the public key into /public (the `jwt-public`
# volume, for the other services and Kong). Production keys come from a
# secret store, never from here.
set -eu
if [ ! -s /private/jwt-private.pem ]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out /private/jwt-private.pem
fi
openssl pkey -in /private/jwt-private.pem -pubout -out /public/jwt-public.pem
# Services run as uid 10001: the private key is readable by that uid only, and
# only the users container mounts it.
chown 10001:10001 /private/jwt-private.pem /public/jwt-public.pem
chmod 600 /private/jwt-private.pem
chmod 644 /public/jwt-public.pem
