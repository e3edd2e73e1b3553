-- tenant_backup 0.1.0 -> 0.2.0.
-- 0.1.0 is released: its install script never changes. A fresh CREATE EXTENSION installs 0.1.0
-- and applies this script, so this file is the only place the 0.2.0 catalog and API are defined
-- beyond 0.1.0. Archives written by 0.1.0 keep verifying and restoring (test/t/013_upgrade.pl).
\echo Use "ALTER EXTENSION tenant_backup UPDATE TO '0.2.0'" to load this file. \quit
