-- Whether a table's UPDATE trigger can call the compiled capture function (the optional extension
-- embedsync_capture, extension/; docs/sync.md, Triggers): `usable`, installed in this database and executable by
-- the role running migrate (the extension grants it to no one, and only a role that may execute a function can
-- create a trigger on it); `installed`, in this database at all; `available`, on the server to be created (its
-- files in the server's extension directory: migrate and doctor say so where the PL/pgSQL function serves).
-- The function is found through the extension's members in the catalog: no name lookup, which would need rights
-- on schema embedsync, and no function of the same name that is not the extension's.
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'embedsync_capture') AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'embedsync_capture') AS available,
       coalesce((SELECT has_function_privilege(p.oid, 'EXECUTE')
                 FROM pg_extension e
                 JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
                                 AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
                 JOIN pg_proc p ON p.oid = d.objid
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE e.extname = 'embedsync_capture' AND n.nspname = 'embedsync' AND p.proname = 'capture_update'), false) AS usable
