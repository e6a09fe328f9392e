-- A job whose worker died on it (killed for memory, a crash in a decoder) becomes claimable again
-- when its lease runs out; lost_leases counts those returns, and the worker dead-letters a job
-- lost twice instead of letting one poison image crash-loop the workers until max_attempts.
ALTER TABLE jobs ADD COLUMN lost_leases integer NOT NULL DEFAULT 0;
