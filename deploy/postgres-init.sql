-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d).
-- Mirrors what deploy/postgres.sh sets up: one role, one database per service.
SELECT 'CREATE ROLE recovery LOGIN CREATEDB PASSWORD ''recovery'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'recovery') \gexec
SELECT format('CREATE DATABASE %I OWNER recovery', name)
  FROM unnest(ARRAY['payments', 'arrangements', 'notices', 'enforcement']) AS name
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = name) \gexec
