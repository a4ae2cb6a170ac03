-- Vacuums a source's change log after a large drain (change-log.ts): its dead entries would otherwise be read by
-- every drain until autovacuum comes round. Not in a transaction (VACUUM cannot be).
VACUUM (SKIP_LOCKED) embedsync.{{name:changes}}
