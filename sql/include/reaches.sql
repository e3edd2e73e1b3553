-- Included (\i, or read by a TAP test) where a test shows which function a call reaches:
-- pg_temp.reaches(call) is the function PostgreSQL resolves `call` to (regprocedure) when a
-- SQL-standard body making the call is created (nothing runs; pg_depend records the function it
-- chose), or 'error: ...' (an ambiguous call fails there).
CREATE FUNCTION pg_temp.reaches(call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    resolved text;
    probe oid;
BEGIN
    EXECUTE format('CREATE FUNCTION pg_temp.probe() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT %s; END', call);
    probe := pg_catalog.to_regprocedure('pg_temp.probe()'); -- a new function each time
    SELECT string_agg(d.refobjid::regprocedure::text, ' ') INTO resolved FROM pg_depend d
    WHERE d.classid = 'pg_proc'::regclass AND d.objid = probe AND d.refclassid = 'pg_proc'::regclass;
    DROP FUNCTION pg_temp.probe();
    RETURN resolved;
EXCEPTION WHEN OTHERS THEN
    RETURN 'error: ' || SQLERRM;
END
$$;
