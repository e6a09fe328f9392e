-- Tasks. created_at + id give a stable order for cursor pagination.
CREATE TABLE tasks (
    id uuid PRIMARY KEY,
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description text CHECK (char_length(description) <= 10000),
    state text NOT NULL DEFAULT 'todo' CHECK (state IN ('todo', 'doing', 'done')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX tasks_created_id ON tasks (created_at, id);
CREATE INDEX tasks_completed_at ON tasks (completed_at) WHERE completed_at IS NOT NULL;
