#!/bin/sh
# Least privilege in PostgreSQL: each service gets its own login role, which
# owns its own database and nothing else (no superuser, cannot create
# databases or roles), and no other role may connect to that database. Run as
# a superuser, with psql's usual PG* variables (compose runs it as an init
# script of the postgres container; scripts/run runs it on the local server;
# the security tests run it under a prefix of their own).
#
#   provision.sh [PREFIX]   roles and databases are named PREFIX<service>
#
# A role's password is taken from SHOP_<SERVICE>_DB_PASSWORD (compose passes
# the generated ones); without one the role can log in only where pg_hba.conf
# trusts it (the local development server). Safe to run again: it also hands
# over tables that an earlier run, connected as the superuser, created.
set -eu
prefix="${1:-${SHOP_DB_PREFIX:-}}"
for svc in users products orders payments; do
  name="$prefix$svc"
  upper=$(printf '%s' "$svc" | tr '[:lower:]' '[:upper:]')
  password=$(printenv "SHOP_${upper}_DB_PASSWORD" || true)
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I', :'name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
ALTER ROLE :"name" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
SELECT format('ALTER ROLE %I PASSWORD %L', :'name', :'password') WHERE :'password' <> '' \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
ALTER DATABASE :"name" OWNER TO :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
  psql -X -q -v ON_ERROR_STOP=1 -d "$name" -v name="$name" <<'SQL'
SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, :'name')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
   AND pg_get_userbyid(c.relowner) <> :'name' \gexec
SELECT format('ALTER SEQUENCE %I.%I OWNER TO %I', n.nspname, c.relname, :'name')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'S'
   AND pg_get_userbyid(c.relowner) <> :'name'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('a', 'i')) \gexec
SQL
done
