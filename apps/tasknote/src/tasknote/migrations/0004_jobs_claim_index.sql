-- The claim query looks only at queued and running jobs; done and dead rows pile up forever, so
-- it must not scan them. This partial index holds just the live rows, in claim order.
CREATE INDEX jobs_live ON jobs (run_after, id) WHERE status IN ('queued', 'running');
DROP INDEX jobs_ready;
DROP INDEX jobs_leased;
