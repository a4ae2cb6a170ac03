-- The watch's look at source $1's queue alone (a table whose inserts have a trigger, or a daemon writing a model
-- migration's shadow columns): whether each lane has due work, one probe of queue_lane_due per lane.
SELECT EXISTS (SELECT 1 FROM embedsync.queue q WHERE q.source = $1 AND q.lane = 0 AND q.next_attempt_at <= now()) AS due_live,
       EXISTS (SELECT 1 FROM embedsync.queue q WHERE q.source = $1 AND q.lane = 1 AND q.next_attempt_at <= now()) AS due_bulk
