-- Uploads live in PostgreSQL (bytea): every API replica on every node serves them, and an
-- upload, its variants and its job commit or roll back together.
CREATE TABLE images (
    id uuid PRIMARY KEY,
    task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    content_type text NOT NULL,
    size integer NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    data bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX images_task ON images (task_id);

-- One row per (image, size): the unique key is what makes a second completion of the same job
-- unable to store a second set of variants.
CREATE TABLE image_variants (
    image_id uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    size integer NOT NULL CHECK (size IN (128, 512, 1024)),
    width integer NOT NULL,
    height integer NOT NULL,
    content_type text NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (image_id, size)
);

-- The resize queue. A claim sets lease_until and a fresh lease token; a job whose lease ran
-- out (its worker died) is claimable again; only the holder of the current token may finish.
CREATE TABLE jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    image_id uuid NOT NULL UNIQUE REFERENCES images (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5,
    run_after timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    lease_token uuid,
    worker text,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready ON jobs (run_after) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE status = 'running';
