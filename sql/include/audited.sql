-- Included (\i) by the regression tests that read tenant_backup.backup_audit right after a
-- failed or denied call. Without shared_preload_libraries such a call's event is written by a
-- background worker that nothing waits for (the caller has its error to raise; the session's next
-- audited call waits for it): pg_temp.audited(query) waits, at most 10 s, until query is true.
CREATE FUNCTION pg_temp.audited(query text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    found boolean;
BEGIN
    FOR i IN 1..200 LOOP
        EXECUTE query INTO found;
        IF found THEN RETURN true; END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;
