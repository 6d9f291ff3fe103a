-- Which inbox job's comment is on the task: with BOT_ACT_ON_LATER_EVENTS a ticket can get
-- one comment per acted-on event, and a rerun of a job must know whether *its* comment
-- was already posted. posted_at stays the first posting time (exposure for the effect).
alter table assistant.suggestions add column if not exists posted_inbox_id bigint;
