-- A task may end cancelled: by whoever started it or by an owner of its organization (0017). Its own file: a value
-- added to an enum can be used only after the transaction that added it has committed.
ALTER TYPE public.task_state ADD VALUE IF NOT EXISTS 'cancelled';
