-- Attaches a partition's index {{partition}} to its parent's index {{relation}}: when the last one is
-- attached, the parent's index becomes valid and the planner uses it across partitions.
ALTER INDEX {{relation}} ATTACH PARTITION {{partition}}
