-- ListProcedures by area and state (issue 13, scripts/bench-procedures.sh c): an official's map
-- of, say, the procedures under review around a place. With only the area index (procedure_geom)
-- PostgreSQL took the area's procedures of every state and intersected them with all of the
-- municipality's procedures read from the b-tree of the unique key: 35 ms a call at a million
-- procedures (goal 5 ms). One GiST index over the municipality, the state and the area answers
-- the three conditions at once, whatever the state asked for. btree_gist gives GiST the
-- equality of the two text columns; it is a trusted extension (PostgreSQL 13 and later), so the
-- database's owner installs it like the rest of the schema. Its = operators are the built-in,
-- leakproof ones, so row-level security keeps the index usable
-- (services/store/tests/procedure_area_index.rs checks the plan under the service role).
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE INDEX procedure_area ON procedure USING gist (municipality_code, state, geom);
