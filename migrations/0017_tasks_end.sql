-- Every task ends, and imports count against their sender.
--
-- 1. A task that no worker moves within `app.settings.task_stall_after` fails, saying why: a queued task that nothing
--    started (its work was never queued: the queue refused, or the task was made by calling the database function
--    straight through PostgREST rather than through the API route, which queues it), or a running one whose
--    messages stopped coming (they failed every attempt and wait in the dead-letter queue). The bound is longer
--    than a message's attempts (5 deliveries, 6 minutes apart: 30 minutes), so a task is not called stalled while
--    its messages are still retried. Stalled tasks are ended when another import to their organization starts (so
--    one never blocks the next) and by org-module's schedule (`end_stalled_tasks`, every reconciliation run).
-- 2. A failed task resumes when its messages come back (redriven from the dead-letter queue, docs/operations.md):
--    the lines it had not handled are handled, and it finishes as if it had never stopped. A cancelled one does not.
-- 3. Whoever started a task, or an owner of its organization, may cancel it while it has not finished
--    (`POST /tasks/{id}/cancel`); lines not yet handled stay unhandled, and messages still queued do nothing.
-- 4. Imports count against their sender: at most `app.settings.max_import_lines_per_hour` addresses an hour
--    (10,000: one full import) across all the organizations one person owns, apart from the 20 invitations an hour
--    sent one by one. Without it, a new account could make organizations and import 10,000 into each at once.

ALTER TABLE app.settings
    ADD COLUMN task_stall_after interval NOT NULL DEFAULT '45 minutes' CHECK (task_stall_after >= interval '1 minute'),
    ADD COLUMN max_import_lines_per_hour integer NOT NULL DEFAULT 10000 CHECK (max_import_lines_per_hour > 0);

-- Finished now includes cancelled. (0009 left the rule unnamed: it is found by what it says.)
DO $$
DECLARE
    v_name text;
BEGIN
    SELECT c.conname INTO STRICT v_name FROM pg_constraint c
    WHERE c.conrelid = 'public.task'::regclass AND c.contype = 'c'
      AND pg_get_constraintdef(c.oid) LIKE '%finished_at IS NOT NULL%';
    EXECUTE format('ALTER TABLE public.task DROP CONSTRAINT %I', v_name);
END
$$;
ALTER TABLE public.task ADD CONSTRAINT task_finished_check
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL));

-- Ends the stalled tasks (of one organization, or all when `p_org_id` is NULL); how many.
CREATE FUNCTION app.end_stalled_tasks(p_org_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_bound interval := (SELECT s.task_stall_after FROM app.settings s);
    v_words text := format('%s minutes', round(extract(epoch FROM v_bound) / 60));
    v_count integer;
BEGIN
    UPDATE public.task t SET state = 'failed', finished_at = now(), updated_at = now(),
        error = CASE WHEN t.state = 'queued'
            THEN format('no worker started it within %s: its work was never queued (start the import again), or '
                        'its messages failed every attempt and wait in the dead-letter queue (once they are moved '
                        'back, the task resumes)', v_words)
            ELSE format('no progress for %s after %s of %s lines: its messages failed every attempt and wait in the '
                        'dead-letter queue; once they are moved back, the task resumes where it stopped', v_words,
                        t.done, t.total)
        END
    WHERE t.state IN ('queued', 'running') AND t.updated_at < now() - v_bound
      AND (p_org_id IS NULL OR t.org_id = p_org_id);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- org-module's schedule: ends every stalled task.
CREATE FUNCTION public.end_stalled_tasks() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_service('org-module');
    RETURN jsonb_build_object('ended', app.end_stalled_tasks(NULL));
END
$$;

-- POST /tasks/{id}/cancel: by whoever started the task or an owner of its organization; 404 for anyone else, 409
-- once it has finished.
CREATE FUNCTION public.cancel_task(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v public.task;
BEGIN
    SELECT * INTO v FROM public.task t WHERE t.id = p_id FOR UPDATE;
    IF NOT FOUND OR (v.created_by IS DISTINCT FROM v_uid
                     AND app.org_role(v.org_id) IS DISTINCT FROM 'owner'::public.org_role) THEN
        RAISE EXCEPTION 'task not found' USING ERRCODE = 'PT404';
    END IF;
    IF v.state IN ('succeeded', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'the task has already ended (%)', v.state USING ERRCODE = 'PT409';
    END IF;
    UPDATE public.task SET state = 'cancelled', finished_at = now(), updated_at = now(),
        error = CASE WHEN v_uid = v.created_by THEN 'cancelled by whoever started it'
                     ELSE 'cancelled by an owner of the organization' END
    WHERE id = p_id RETURNING * INTO v;
    RETURN app.task_json(v);
END
$$;

-- As in 0009, and: stalled imports of the organization end first (one never blocks the next), and the caller's
-- imports of the last hour count against `max_import_lines_per_hour` (429 with when to retry).
CREATE OR REPLACE FUNCTION public.start_invitation_import(p_org_id uuid, p_lines jsonb,
                                                          p_role public.invite_role DEFAULT 'member')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v_role public.org_role := app.org_role(p_org_id);
    v_settings app.settings := (SELECT s FROM app.settings s);
    v_count integer;
    v_running uuid;
    v_recent bigint;
    v_oldest timestamptz;
    v public.task;
BEGIN
    IF v_role IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'PT404';
    END IF;
    IF v_role <> 'owner' THEN
        RAISE EXCEPTION 'only owners can import invitations' USING ERRCODE = 'PT403';
    END IF;
    IF jsonb_typeof(p_lines) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'lines must be an array' USING ERRCODE = 'PT400';
    END IF;
    v_count := jsonb_array_length(p_lines);
    IF v_count = 0 OR v_count > app.max_import_lines() THEN
        RAISE EXCEPTION 'an import has 1 to % addresses, not %', app.max_import_lines(), v_count USING ERRCODE = 'PT400';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('import'), hashtext(p_org_id::text));
    PERFORM pg_advisory_xact_lock(hashtext('import-sender'), hashtext(v_uid::text));
    PERFORM app.end_stalled_tasks(p_org_id);
    SELECT t.id INTO v_running FROM public.task t
    WHERE t.org_id = p_org_id AND t.kind = 'invitation-import' AND t.state IN ('queued', 'running');
    IF FOUND THEN
        RAISE EXCEPTION 'an import to this organization is still running (task %); wait for it to finish or cancel it',
            v_running USING ERRCODE = 'PT409';
    END IF;
    -- A cancelled import counts the lines it handled; any other, all its lines.
    SELECT coalesce(sum(CASE WHEN t.state = 'cancelled' THEN t.done ELSE t.total END), 0), min(t.created_at)
    INTO v_recent, v_oldest
    FROM public.task t
    WHERE t.created_by = v_uid AND t.kind = 'invitation-import' AND t.created_at > now() - interval '1 hour';
    IF v_recent + v_count > v_settings.max_import_lines_per_hour THEN
        RAISE EXCEPTION 'you imported % addresses in the last hour; with these % that passes the % an hour allowed; try again later',
            v_recent, v_count, v_settings.max_import_lines_per_hour
            USING ERRCODE = 'PT429',
                  HINT = greatest(ceil(extract(epoch FROM (v_oldest + interval '1 hour' - now()))), 1)::text;
    END IF;
    INSERT INTO public.task (module, kind, org_id, created_by, total)
    VALUES ('org-module', 'invitation-import', p_org_id, v_uid, v_count)
    RETURNING * INTO v;
    INSERT INTO app.invitation_import_line (task_id, line, address, role, outcome, reason, handled_at)
    SELECT v.id, (l ->> 'line')::integer, left(coalesce(l ->> 'address', ''), 1000), p_role,
           CASE WHEN l ->> 'reason' IS NOT NULL THEN 'failed' END,
           left(l ->> 'reason', 500),
           CASE WHEN l ->> 'reason' IS NOT NULL THEN now() END
    FROM jsonb_array_elements(p_lines) l;
    UPDATE public.task t SET done = (SELECT count(*) FROM app.invitation_import_line l
                                     WHERE l.task_id = v.id AND l.handled_at IS NOT NULL)
    WHERE t.id = v.id RETURNING * INTO v;
    IF v.done = v.total THEN
        v := app.finish_import(v.id);  -- nothing left for a worker
    END IF;
    RETURN app.task_json(v);
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'two lines have the same number' USING ERRCODE = 'PT400';
    WHEN invalid_text_representation OR null_value_not_allowed OR not_null_violation THEN
        RAISE EXCEPTION 'each line needs a number and an address' USING ERRCODE = 'PT400';
END
$$;

-- The worker: 0009's function, kept as it is under `app` (it handles the lines), behind one that first says what
-- a task's state allows: a cancelled task takes no more lines, and a failed one with lines of this range still to do
-- resumes (its messages came back from the dead-letter queue).
ALTER FUNCTION public.import_invitation_lines(uuid, integer, integer) SET SCHEMA app;
ALTER FUNCTION app.import_invitation_lines(uuid, integer, integer) RENAME TO handle_import_lines;
REVOKE ALL ON FUNCTION app.handle_import_lines(uuid, integer, integer) FROM PUBLIC, anon, authenticated, service;

CREATE FUNCTION public.import_invitation_lines(p_task_id uuid, p_first integer, p_last integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_task public.task;
BEGIN
    PERFORM app.require_service('org-module');
    SELECT * INTO v_task FROM public.task WHERE id = p_task_id AND kind = 'invitation-import' FOR UPDATE;
    IF v_task.state = 'cancelled' THEN
        RETURN app.task_json(v_task);  -- cancelled: nothing to do
    END IF;
    IF v_task.state = 'failed' AND EXISTS (
            SELECT 1 FROM app.invitation_import_line l
            WHERE l.task_id = p_task_id AND l.line BETWEEN p_first AND p_last AND l.handled_at IS NULL) THEN
        UPDATE public.task SET state = 'running', error = NULL, finished_at = NULL, updated_at = now(),
            started_at = coalesce(started_at, now())
        WHERE id = p_task_id;
    END IF;
    RETURN app.handle_import_lines(p_task_id, p_first, p_last);
END
$$;

REVOKE ALL ON FUNCTION app.end_stalled_tasks(uuid) FROM PUBLIC, anon, authenticated, service;
REVOKE ALL ON FUNCTION public.cancel_task(uuid) FROM PUBLIC, anon, service;
GRANT EXECUTE ON FUNCTION public.cancel_task(uuid) TO authenticated;
-- org-module's service function (the catalog's `service_functions`): the service role only.
REVOKE ALL ON FUNCTION public.end_stalled_tasks(), public.import_invitation_lines(uuid, integer, integer)
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.end_stalled_tasks(), public.import_invitation_lines(uuid, integer, integer) TO service;

NOTIFY pgrst, 'reload schema';
