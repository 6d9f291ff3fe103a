-- Issue #25: at most once, never lost (docs/reliability.md).
--
-- lease: a fencing token, incremented by every claim. A worker may only post while the
--   row still carries its token and its lease (lease_until) outlasts the POST; a worker
--   whose job was reclaimed finds another token and stops.
-- post_sent_at: when this job last sent its POST. Until it is known whether Pyrus applied
--   it, no worker posts again before BOT_POST_RECHECK_SECONDS have passed and the task
--   was searched for the job's `kb:<id>` marker.
-- retry_until: set by the first transient failure (Pyrus or the database unreachable);
--   such failures are retried with capped backoff until then (BOT_RETRY_HORIZON_SECONDS).
alter table assistant.inbox add column if not exists lease bigint not null default 0;
alter table assistant.inbox add column if not exists lease_until timestamptz;
alter table assistant.inbox add column if not exists post_sent_at timestamptz;
alter table assistant.inbox add column if not exists retry_until timestamptz;
create index if not exists inbox_failed_idx on assistant.inbox (id) where status = 'failed';
