-- Functions without a caller, and the work they do:
--
-- 1. Service principals. A function started by a queue, a schedule or an object has no caller; it gets an access
--    token of its own from the identity provider (client credentials, signed by its module's KMS key), with the role
--    claim `service`. The database maps the token's client to a module (`app.service_principal`, written by
--    `cargo xtask db configure` from the environment's settings) and lets it execute only the functions that module
--    declares (`Module::service_functions` in the catalog; a test holds the grants to it). The `service` role has no
--    table privileges, and a user's token cannot call these functions.
-- 2. Tasks: a job longer than a request (202 Accepted), its state, progress and outcome, visible to whoever started
--    it.
-- 3. Invitation imports: up to 10,000 addresses, one task; a worker creates the invitations a range of lines at a
--    time, each line once however often its range is delivered.
-- 4. Reconciliation with Okta: users deactivated or suspended in Okta are deactivated here, resuming from a cursor.

-- 1. Service principals -------------------------------------------------------------------------------------------

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service') THEN
        CREATE ROLE service NOLOGIN NOINHERIT;
    END IF;
END
$$;
GRANT service TO authenticator;
-- Schema usage only: PostgREST resolves functions in `public`, and the pre-request check lives in `app`.
GRANT USAGE ON SCHEMA public, app TO service;

CREATE TABLE app.service_principal (
    client_id  text PRIMARY KEY CHECK (length(client_id) BETWEEN 1 AND 255),
    module     text NOT NULL CHECK (module ~ '^[a-z][a-z0-9-]*-module$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON app.service_principal FROM PUBLIC, anon, authenticated, service;

-- The module whose service principal the request's token is: role `service`, from a client-credentials grant
-- (`sub` is the client id, and so is `cid` where the identity provider adds it) of a registered client. NULL for
-- anyone else.
CREATE FUNCTION app.service_module() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT sp.module FROM app.service_principal sp
    WHERE app.jwt_claims() ->> 'role' = 'service'
      AND sp.client_id = app.jwt_claims() ->> 'sub'
      AND coalesce(app.jwt_claims() ->> 'cid', app.jwt_claims() ->> 'sub') = app.jwt_claims() ->> 'sub'
$$;

-- Refuses the call unless the token is `p_module`'s service principal.
CREATE FUNCTION app.require_service(p_module text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF app.service_module() IS DISTINCT FROM p_module THEN
        RAISE EXCEPTION 'only the service principal of % may call this', p_module USING ERRCODE = 'PT403';
    END IF;
END
$$;

-- Every request: anonymous (granted nothing), a user with an active identity, or a registered service client.
CREATE OR REPLACE FUNCTION app.check_request() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_role text := app.jwt_claims() ->> 'role';
BEGIN
    IF v_role IS NULL OR v_role = 'anon' THEN
        RETURN;  -- no token: the anon role, which is granted nothing
    END IF;
    IF v_role = 'service' THEN
        IF app.service_module() IS NULL THEN
            RAISE EXCEPTION 'the token is not of a registered service client' USING ERRCODE = 'PT403';
        END IF;
        RETURN;
    END IF;
    IF v_role <> 'authenticated' THEN
        RAISE EXCEPTION 'tokens may only act as authenticated or service' USING ERRCODE = 'PT403';
    END IF;
    IF app.current_user_id() IS NULL THEN
        RAISE EXCEPTION 'the caller has no active identity on this platform' USING ERRCODE = 'PT403';
    END IF;
END
$$;
GRANT EXECUTE ON FUNCTION app.check_request() TO PUBLIC;

-- 2. Tasks --------------------------------------------------------------------------------------------------------

CREATE TYPE public.task_state AS ENUM ('queued', 'running', 'succeeded', 'failed');

CREATE TABLE public.task (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    module      text NOT NULL CHECK (module ~ '^[a-z][a-z0-9-]*-module$'),
    kind        text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9-]*$'),
    org_id      uuid REFERENCES public.org (id),
    created_by  uuid NOT NULL REFERENCES public.identities (id),
    state       public.task_state NOT NULL DEFAULT 'queued',
    total       integer NOT NULL DEFAULT 0 CHECK (total >= 0),
    done        integer NOT NULL DEFAULT 0 CHECK (done BETWEEN 0 AND total),
    result      jsonb,
    error       text CHECK (length(error) <= 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((state IN ('succeeded', 'failed')) = (finished_at IS NOT NULL))
);
CREATE INDEX task_created_by_idx ON public.task (created_by, created_at DESC);
CREATE INDEX task_open_idx ON public.task (org_id, kind) WHERE state IN ('queued', 'running');
ALTER TABLE public.task ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON public.task TO authenticated;
CREATE POLICY task_select ON public.task FOR SELECT TO authenticated USING (created_by = app.current_user_id());

-- The API's `Task`.
CREATE FUNCTION app.task_json(t public.task) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT jsonb_build_object('id', t.id, 'kind', t.kind, 'state', t.state, 'done', t.done, 'total', t.total,
        'created_at', t.created_at, 'started_at', t.started_at, 'finished_at', t.finished_at,
        'result', t.result, 'error', t.error)
$$;

-- GET /tasks/{id}: a task the caller started; 404 for anyone else's.
CREATE FUNCTION public.get_task(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v public.task;
BEGIN
    SELECT * INTO v FROM public.task WHERE id = p_id AND created_by = v_uid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task not found' USING ERRCODE = 'PT404';
    END IF;
    RETURN app.task_json(v);
END
$$;

-- A task the caller started that could not be queued (the queue refused): failed, with the reason, so it does not
-- wait forever. Only while still queued.
CREATE FUNCTION public.abandon_task(p_id uuid, p_reason text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v public.task;
BEGIN
    UPDATE public.task SET state = 'failed', error = left(p_reason, 1000), finished_at = now(), updated_at = now()
    WHERE id = p_id AND created_by = v_uid AND state = 'queued'
    RETURNING * INTO v;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no queued task of yours with this id' USING ERRCODE = 'PT404';
    END IF;
    RETURN app.task_json(v);
END
$$;

-- 3. Invitation imports -------------------------------------------------------------------------------------------

-- Invitations an import created carry its task: they do not count against their sender's hourly limit (an import is
-- bounded by itself: owners only, one at a time per organization, 10,000 addresses).
ALTER TABLE public.org_invitation ADD COLUMN source_task_id uuid REFERENCES public.task (id);
-- An organization may hold two imports' worth of open invitations (`cargo xtask db configure` writes each
-- environment's value; a database still at 0008's default of 500 moves to the new default).
ALTER TABLE app.settings ALTER COLUMN max_open_invitations_per_org SET DEFAULT 20000;
UPDATE app.settings SET max_open_invitations_per_org = 20000 WHERE max_open_invitations_per_org = 500;

CREATE TABLE app.invitation_import_line (
    task_id    uuid NOT NULL REFERENCES public.task (id) ON DELETE CASCADE,
    line       integer NOT NULL CHECK (line > 0),
    address    text NOT NULL CHECK (length(address) <= 1000),
    role       public.invite_role NOT NULL,
    outcome    text CHECK (outcome IN ('created', 'already_invited', 'already_member', 'failed')),
    reason     text CHECK (length(reason) <= 500),
    handled_at timestamptz,
    PRIMARY KEY (task_id, line),
    CHECK ((outcome IS NULL) = (handled_at IS NULL)),
    CHECK ((outcome = 'failed') = (reason IS NOT NULL))
);
CREATE INDEX invitation_import_line_key_idx ON app.invitation_import_line (task_id, app.address_key(address));
REVOKE ALL ON app.invitation_import_line FROM PUBLIC, anon, authenticated, service;

-- Whether a text passes the address rule (the `app.email` domain: one rule with the API's and the OpenAPI document's).
CREATE FUNCTION app.is_email(p text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
    PERFORM p::app.email;
    RETURN true;
EXCEPTION WHEN check_violation OR string_data_right_truncation THEN
    RETURN false;
END
$$;

-- The most lines one import takes (the API refuses more first).
CREATE FUNCTION app.max_import_lines() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 10000 $$;

-- Finishes an import whose lines are all handled: counts by outcome, and the first 1,000 failed lines with reasons.
CREATE FUNCTION app.finish_import(p_task_id uuid) RETURNS public.task
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.task;
BEGIN
    UPDATE public.task t SET state = 'succeeded', finished_at = now(), updated_at = now(), done = t.total,
        result = (SELECT jsonb_build_object(
            'created', count(*) FILTER (WHERE l.outcome = 'created'),
            'already_invited', count(*) FILTER (WHERE l.outcome = 'already_invited'),
            'already_members', count(*) FILTER (WHERE l.outcome = 'already_member'),
            'failed', count(*) FILTER (WHERE l.outcome = 'failed'),
            'failures', coalesce((SELECT jsonb_agg(jsonb_build_object('line', f.line, 'address', f.address,
                                                                      'reason', f.reason) ORDER BY f.line)
                                  FROM (SELECT * FROM app.invitation_import_line f
                                        WHERE f.task_id = p_task_id AND f.outcome = 'failed'
                                        ORDER BY f.line LIMIT 1000) f), '[]'::jsonb))
            FROM app.invitation_import_line l WHERE l.task_id = p_task_id)
    WHERE t.id = p_task_id
    RETURNING * INTO v;
    RETURN v;
END
$$;

-- POST /organizations/{id}/invitations/import (owners): records the import as a task with its lines and returns it
-- queued; the API then queues its ranges for the worker. `p_lines` is `[{"line", "address", "reason"}]`: a line the
-- API already refused carries the reason and is recorded as failed at once. One import per organization at a time.
CREATE FUNCTION public.start_invitation_import(p_org_id uuid, p_lines jsonb,
                                               p_role public.invite_role DEFAULT 'member')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v_role public.org_role := app.org_role(p_org_id);
    v_count integer;
    v_running uuid;
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
    SELECT t.id INTO v_running FROM public.task t
    WHERE t.org_id = p_org_id AND t.kind = 'invitation-import' AND t.state IN ('queued', 'running');
    IF FOUND THEN
        RAISE EXCEPTION 'an import to this organization is still running (task %); wait for it to finish', v_running
            USING ERRCODE = 'PT409';
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

-- The worker (org-module's service principal): handles lines `p_first`..`p_last` of an import that are not handled
-- yet, each in this one transaction with its outcome, so a range delivered twice has one effect. The importer's
-- authority is checked now, not only when the import started. Addresses with an open invitation are left as they
-- are (importing again creates nothing); an expired, unanswered one is sent again. Outcomes never say whether an
-- address belongs to anyone.
CREATE FUNCTION public.import_invitation_lines(p_task_id uuid, p_first integer, p_last integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_task public.task;
    v_settings app.settings := (SELECT s FROM app.settings s);
    v_owner boolean;
    v_line app.invitation_import_line;
    v_key text;
    v_outcome text;
    v_reason text;
    v_first_seen integer;
    v_open bigint;
    v_invitation public.org_invitation;
BEGIN
    PERFORM app.require_service('org-module');
    -- One range of a task at a time: the open-invitation count and the duplicate check see every earlier line.
    SELECT * INTO v_task FROM public.task WHERE id = p_task_id AND kind = 'invitation-import' FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'import task not found' USING ERRCODE = 'PT404';
    END IF;
    IF v_task.state IN ('succeeded', 'failed') THEN
        RETURN app.task_json(v_task);  -- delivered again after it finished: nothing to do
    END IF;
    IF v_task.state = 'queued' THEN
        UPDATE public.task SET state = 'running', started_at = now(), updated_at = now()
        WHERE id = p_task_id RETURNING * INTO v_task;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('invite'), hashtext(v_task.org_id::text));
    v_owner := EXISTS (
        SELECT 1 FROM public.org_member m
        JOIN public.identities i ON i.id = m.user_id AND i.deactivated_at IS NULL
        JOIN public.org o ON o.id = m.org_id AND o.deleted_at IS NULL
        WHERE m.org_id = v_task.org_id AND m.user_id = v_task.created_by AND m.deleted_at IS NULL
          AND m.role = 'owner');
    v_open := (SELECT count(*) FROM public.org_invitation
               WHERE org_id = v_task.org_id AND accepted_at IS NULL AND declined_at IS NULL AND revoked_at IS NULL
                 AND expires_at > now());
    FOR v_line IN
        SELECT * FROM app.invitation_import_line
        WHERE task_id = p_task_id AND line BETWEEN p_first AND p_last AND handled_at IS NULL
        ORDER BY line
    LOOP
        v_outcome := NULL;
        v_reason := NULL;
        v_key := app.address_key(v_line.address);
        IF NOT v_owner THEN
            v_outcome := 'failed';
            v_reason := 'the importer is no longer an owner of the organization';
        ELSIF NOT app.is_email(v_line.address) THEN
            v_outcome := 'failed';
            v_reason := 'not an e-mail address';
        ELSE
            SELECT min(l.line) INTO v_first_seen FROM app.invitation_import_line l
            WHERE l.task_id = p_task_id AND app.address_key(l.address) = v_key AND l.line < v_line.line;
            IF v_first_seen IS NOT NULL THEN
                v_outcome := 'failed';
                v_reason := format('the same address as line %s', v_first_seen);
            ELSIF EXISTS (SELECT 1 FROM public.org_member m JOIN public.identities i ON i.id = m.user_id
                          WHERE m.org_id = v_task.org_id AND m.deleted_at IS NULL AND i.deactivated_at IS NULL
                            AND app.address_key(i.email) = v_key) THEN
                v_outcome := 'already_member';
            ELSE
                SELECT * INTO v_invitation FROM public.org_invitation
                WHERE org_id = v_task.org_id AND app.address_key(email) = v_key
                  AND accepted_at IS NULL AND declined_at IS NULL AND revoked_at IS NULL;
                IF FOUND AND v_invitation.expires_at > now() THEN
                    v_outcome := 'already_invited';
                ELSIF v_open >= v_settings.max_open_invitations_per_org THEN
                    v_outcome := 'failed';
                    v_reason := format('the organization has %s open invitations, the most it may have', v_open);
                ELSIF FOUND THEN
                    UPDATE public.org_invitation SET role = v_line.role, invited_by = v_task.created_by,
                        sent_at = now(), expires_at = now() + v_settings.invitation_ttl, source_task_id = p_task_id
                    WHERE id = v_invitation.id;
                    v_outcome := 'created';
                    v_open := v_open + 1;
                ELSE
                    INSERT INTO public.org_invitation (org_id, email, role, invited_by, expires_at, source_task_id)
                    VALUES (v_task.org_id, v_line.address, v_line.role, v_task.created_by,
                            now() + v_settings.invitation_ttl, p_task_id);
                    v_outcome := 'created';
                    v_open := v_open + 1;
                END IF;
            END IF;
        END IF;
        UPDATE app.invitation_import_line SET outcome = v_outcome, reason = v_reason, handled_at = now()
        WHERE task_id = p_task_id AND line = v_line.line;
    END LOOP;
    UPDATE public.task t SET updated_at = now(),
        done = (SELECT count(*) FROM app.invitation_import_line l WHERE l.task_id = p_task_id AND l.handled_at IS NOT NULL)
    WHERE t.id = p_task_id RETURNING * INTO v_task;
    IF v_task.done = v_task.total THEN
        v_task := app.finish_import(p_task_id);
    END IF;
    RETURN app.task_json(v_task);
END
$$;

-- POST /organizations/{id}/members: as in 0008, except that invitations an import created do not count against
-- their sender's hourly limit.
CREATE OR REPLACE FUNCTION public.invite_member(p_org_id uuid, p_email text,
                                                p_role public.invite_role DEFAULT 'member')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v_caller_role public.org_role := app.org_role(p_org_id);
    v_settings app.settings := (SELECT s FROM app.settings s);
    v_open bigint;
    v_sent bigint;
    v_oldest timestamptz;
    v public.org_invitation;
BEGIN
    IF v_caller_role IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'PT404';
    END IF;
    IF v_caller_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only owners and admins can invite members' USING ERRCODE = 'PT403';
    END IF;
    PERFORM p_email::app.email;
    IF EXISTS (SELECT 1 FROM public.org_member m JOIN public.identities i ON i.id = m.user_id
               WHERE m.org_id = p_org_id AND m.deleted_at IS NULL AND i.deactivated_at IS NULL
                 AND app.address_key(i.email) = app.address_key(p_email)) THEN
        RAISE EXCEPTION 'a member of this organization already has this e-mail' USING ERRCODE = 'PT409';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('invite'), hashtext(p_org_id::text));
    PERFORM pg_advisory_xact_lock(hashtext('invite-sender'), hashtext(v_uid::text));
    SELECT count(*), min(sent_at) INTO v_sent, v_oldest
    FROM public.org_invitation
    WHERE invited_by = v_uid AND sent_at > now() - interval '1 hour' AND source_task_id IS NULL;
    IF v_sent >= v_settings.max_invitations_per_hour THEN
        RAISE EXCEPTION 'you sent % invitations in the last hour, the most allowed; try again later', v_sent
            USING ERRCODE = 'PT429',
                  HINT = greatest(ceil(extract(epoch FROM (v_oldest + interval '1 hour' - now()))), 1)::text;
    END IF;
    UPDATE public.org_invitation SET role = p_role, invited_by = v_uid, sent_at = now(),
        expires_at = now() + v_settings.invitation_ttl, source_task_id = NULL
    WHERE org_id = p_org_id AND app.address_key(email) = app.address_key(p_email)
      AND accepted_at IS NULL AND declined_at IS NULL AND revoked_at IS NULL
    RETURNING * INTO v;
    IF NOT FOUND THEN
        v_open := (SELECT count(*) FROM public.org_invitation
                   WHERE org_id = p_org_id AND accepted_at IS NULL AND declined_at IS NULL AND revoked_at IS NULL
                     AND expires_at > now());
        IF v_open >= v_settings.max_open_invitations_per_org THEN
            RAISE EXCEPTION 'the organization has % open invitations, the most it may have; revoke some or wait for answers',
                v_open USING ERRCODE = 'PT409';
        END IF;
        INSERT INTO public.org_invitation (org_id, email, role, invited_by, expires_at)
        VALUES (p_org_id, p_email, p_role, v_uid, now() + v_settings.invitation_ttl)
        RETURNING * INTO v;
    END IF;
    RETURN app.invitation_json(v);
END
$$;

-- 4. Reconciliation with Okta -------------------------------------------------------------------------------------

-- Where the last run stopped: the `statusChanged` of the last user it handled, and the Okta ids handled at exactly
-- that time (the next run asks for `statusChanged ge` the cursor and skips those, so no user is missed between
-- pages that end mid-second and none is handled twice).
CREATE TABLE app.idp_sync (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    cursor_at        timestamptz NOT NULL DEFAULT '1970-01-01T00:00:00Z',
    cursor_ids       text[] NOT NULL DEFAULT '{}',
    last_run_at      timestamptz,
    last_deactivated integer NOT NULL DEFAULT 0,
    runs             bigint NOT NULL DEFAULT 0
);
INSERT INTO app.idp_sync DEFAULT VALUES;
REVOKE ALL ON app.idp_sync FROM PUBLIC, anon, authenticated, service;

-- Where the reconciliation resumes (org-module's service principal).
CREATE FUNCTION public.okta_sync_state() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v app.idp_sync;
BEGIN
    PERFORM app.require_service('org-module');
    SELECT * INTO v FROM app.idp_sync;
    RETURN jsonb_build_object('cursor_at', v.cursor_at, 'cursor_ids', to_jsonb(v.cursor_ids),
                              'last_run_at', v.last_run_at, 'runs', v.runs);
END
$$;

-- Deactivates the platform identities of `p_users` (`[{"okta_id", "login"}]`, users Okta reports deactivated or
-- suspended), matched by Okta user id, or by login for identities recorded without one, and moves the cursor
-- forward (never back). Deactivation here is what an admin's is (the profile hidden, memberships kept for a
-- reactivation, open invitations sent by them revoked), except that it is not refused for the last owner of an
-- organization: the person can no longer sign in, and platform admins can transfer the ownership.
CREATE FUNCTION public.deactivate_from_idp(p_users jsonb, p_cursor_at timestamptz, p_cursor_ids text[])
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_ids uuid[];
BEGIN
    PERFORM app.require_service('org-module');
    IF jsonb_typeof(p_users) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'users must be an array' USING ERRCODE = 'PT400';
    END IF;
    WITH gone AS (
        SELECT u ->> 'okta_id' AS okta_id, u ->> 'login' AS login FROM jsonb_array_elements(p_users) u
    ), changed AS (
        UPDATE public.identities i SET deactivated_at = now()
        FROM gone g
        WHERE i.deactivated_at IS NULL
          AND (i.okta_id = g.okta_id OR (i.okta_id IS NULL AND app.address_key(i.idp_subject) = app.address_key(g.login)))
        RETURNING i.id
    )
    SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM changed;
    UPDATE public.profiles SET deleted_at = coalesce(deleted_at, now()) WHERE id = ANY (v_ids);
    UPDATE app.idp_sync SET
        cursor_ids = CASE WHEN p_cursor_at > cursor_at THEN p_cursor_ids
                          WHEN p_cursor_at = cursor_at THEN ARRAY(SELECT DISTINCT unnest(cursor_ids || p_cursor_ids))
                          ELSE cursor_ids END,
        cursor_at = greatest(cursor_at, p_cursor_at),
        last_run_at = now(), last_deactivated = cardinality(v_ids), runs = runs + 1;
    RETURN jsonb_build_object('deactivated', cardinality(v_ids));
END
$$;

-- Grants ----------------------------------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION app.service_module(), app.require_service(text), app.task_json(public.task),
    app.finish_import(uuid), app.max_import_lines(), app.is_email(text)
    FROM PUBLIC, anon, authenticated, service;
REVOKE ALL ON FUNCTION public.get_task(uuid), public.abandon_task(uuid, text),
    public.start_invitation_import(uuid, jsonb, public.invite_role)
    FROM PUBLIC, anon, service;
GRANT EXECUTE ON FUNCTION public.get_task(uuid), public.abandon_task(uuid, text),
    public.start_invitation_import(uuid, jsonb, public.invite_role)
    TO authenticated;
-- org-module's service functions (the catalog's `service_functions`): the service role only.
REVOKE ALL ON FUNCTION public.import_invitation_lines(uuid, integer, integer), public.okta_sync_state(),
    public.deactivate_from_idp(jsonb, timestamptz, text[])
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.import_invitation_lines(uuid, integer, integer), public.okta_sync_state(),
    public.deactivate_from_idp(jsonb, timestamptz, text[])
    TO service;

NOTIFY pgrst, 'reload schema';
