-- Every source recorded besides $1, for the check that two tables would not share generated names.
SELECT source FROM embedsync.state WHERE source <> $1
