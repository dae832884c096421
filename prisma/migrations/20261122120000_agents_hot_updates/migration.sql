-- Leave room in each page so that position updates (a step, a tick) can be HOT updates: written
-- in place without new index entries. Agents' rows change every second; their indexed columns rarely.
ALTER TABLE "agents" SET (fillfactor = 70);
