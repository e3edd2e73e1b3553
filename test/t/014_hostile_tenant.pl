# A hostile tenant against the scheduler (issue 14): a role that can only create objects in
# public plants a tenant column of its own type with a cast to text, operators that shadow
# pg_catalog's for varchar, a table of its own with the tenant column and an ALWAYS trigger, and
# a table with an unsupported tenant type. The scheduler's discovery and its jobs run as the
# bootstrap superuser: none of the attacker's code may run, its table joins no backup, and every
# other tenant is still backed up on time. Then a superuser restores: still nothing of the
# attacker's runs. (The regression files 15-18 mount each finding against a superuser caller.)
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use SchedulerTestClock;

my $node = scheduler_node('hostile', "tenant_backup.tenant_registry = ''\n");

sql(q{
CREATE EXTENSION tenant_backup;
CREATE SCHEMA app;
CREATE TABLE app.accounts (tenant_id varchar(20) NOT NULL, id int PRIMARY KEY, name text);
CREATE INDEX ON app.accounts (tenant_id);
INSERT INTO app.accounts VALUES ('acme', 1, 'Acme'), ('globex', 2, 'Globex');
CREATE TABLE public.pwned (who text, was_superuser boolean, via text);
GRANT INSERT, SELECT ON public.pwned TO PUBLIC;
CREATE ROLE attacker LOGIN;
GRANT CREATE ON SCHEMA public TO attacker; -- as in every database made before PostgreSQL 15
});

$node->safe_psql(
	'postgres', q{
SET ROLE attacker;
CREATE FUNCTION public.record(via text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.pwned VALUES (current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), via);
    BEGIN
        ALTER ROLE attacker SUPERUSER;
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    RETURN true;
END
$$;
-- A tenant column of its own type, with a cast to text.
CREATE TYPE public.evil AS (v int);
CREATE FUNCTION public.evil_text(public.evil) RETURNS text LANGUAGE sql AS $$ SELECT public.record('cast')::text $$;
CREATE CAST (public.evil AS text) WITH FUNCTION public.evil_text(public.evil);
CREATE TABLE public.evil_table (tenant_id public.evil);
INSERT INTO public.evil_table VALUES (ROW(1));
-- varchar = varchar and varchar > varchar, found before pg_catalog's text operators.
CREATE FUNCTION public.v_eq(varchar, varchar) RETURNS boolean LANGUAGE sql
    AS $$ SELECT public.record('operator =') AND $1::text OPERATOR(pg_catalog.=) $2::text $$;
CREATE FUNCTION public.v_gt(varchar, varchar) RETURNS boolean LANGUAGE sql
    AS $$ SELECT public.record('operator >') AND $1::text OPERATOR(pg_catalog.>) $2::text $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.v_eq);
CREATE OPERATOR public.> (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.v_gt);
-- Its own table with the tenant column, rows claiming to be acme's, and an ALWAYS trigger.
CREATE TABLE public.planted (tenant_id varchar(20), secret text);
INSERT INTO public.planted VALUES ('acme', 'planted'), ('initech', 'planted');
CREATE FUNCTION public.planted_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM public.record('trigger'); RETURN NULL; END $$;
CREATE TRIGGER planted_always AFTER INSERT OR DELETE ON public.planted
    FOR EACH ROW EXECUTE FUNCTION public.planted_trigger();
ALTER TABLE public.planted ENABLE ALWAYS TRIGGER planted_always;
-- And a table whose tenant column has a type backups do not support.
CREATE TABLE public.amounts (tenant_id numeric);
INSERT INTO public.amounts VALUES (1);
});

# The scheduler discovers tenants when schedules change, and backs up every tenant at 02:00.
set_clock(0, 1, 59, 57);
sql("SELECT tenant_backup.backup_schedule_set(cron => '0 2 * * *')");
ok( wait_for(
		"SELECT string_agg(tenant, ' ' ORDER BY tenant) FROM tenant_backup.backups "
		  . "WHERE kind = 'auto' AND status = 'completed'",
		'acme globex'),
	'the scheduler backs up acme and globex, and only them');
is(sql('SELECT count(*) FROM public.pwned'), '0', "none of the attacker's code ran in discovery or the jobs");
is(sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'attacker'"), 'f', 'the attacker is no superuser');
is( sql("SELECT sum((t->>'rows')::int) FROM tenant_backup.backups b, jsonb_array_elements(b.tables) t "
		  . "WHERE b.kind = 'auto' AND t->>'name' <> 'accounts'"),
	'', 'no other table joined the scheduled backups');
my $log = slurp_file($node->logfile);
like($log, qr/table public\.planted is left out of the backup of tenant "acme": owner attacker is not trusted/,
	'the scheduled backup names the planted table it left out');
like($log, qr/table public\.amounts is left out of the backup of tenant "acme": tenant column type numeric is not supported/,
	'and the table with an unsupported tenant type');

# A superuser restores acme's scheduled backup: the attacker's trigger, operators and cast do
# not run.
my $auto = sql("SELECT id FROM tenant_backup.backups WHERE kind = 'auto' AND tenant = 'acme'");
sql("UPDATE app.accounts SET name = 'damaged'");
is(sql("SELECT string_agg(table_name || ' ' || rows_restored, ',') FROM tenant_backup.backup_restore($auto)"),
	'app.accounts 1', 'a superuser restores acme');
is(sql("SELECT name FROM app.accounts WHERE id = 1"), 'Acme', "acme's row is back");
is(sql('SELECT count(*) FROM public.pwned'), '0', "none of the attacker's code ran in the restore");
is(sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'attacker'"), 'f', 'the attacker is still no superuser');

$node->stop;
done_testing();
