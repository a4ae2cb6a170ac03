-- The publication of a table's logical capture goes with its slot (capture-slot-drop.sql).
DROP PUBLICATION IF EXISTS {{name:capture}}
