-- One row per day; `tasknote summary` upserts it, so re-running a day rewrites the same row.
CREATE TABLE daily_summaries (
    day date PRIMARY KEY,
    tasks_by_state jsonb NOT NULL,
    created integer NOT NULL,
    completed integer NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
