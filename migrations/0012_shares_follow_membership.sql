-- What is shared with an organization is seen by its members only while its owner is one of them, with an active
-- identity: one rule for every "shared with an organization" thing (résumés now, certifications next).
--
-- The rule is `app.share_holds(owner, org)`: the owner has a live membership of the live organization and an active
-- identity. Row-Level Security and the API's functions apply it, so it holds through PostgREST too.
--
-- A share ends, and is not restored: when the owner leaves or is removed from the organization, or their identity is
-- deactivated (by an admin or by the Okta reconciliation), every share of theirs into that organization (or into all
-- of them) is ended in the same transaction, by a trigger over the tables that register themselves in
-- `app.shareable`. Someone who comes back shares again, deliberately; a share never reappears by itself. A former
-- member cannot share into the organization (409).
--
-- What a deactivated person's résumés become: nobody sees them (their shares ended), and they stay erasable by the
-- owner if they are reactivated within `resume_retention_after_deactivation` (30 days); after that the hourly erasure
-- sweep erases them (every version of the document, then the row). The same retention applies to every later module
-- that keeps a person's documents.
--
-- Also here: members see a shared résumé's parsed sections, never its full text or storage key (column privileges:
-- one rule for the API and PostgREST); a résumé's row can only go through the erasure path (a tombstone keeps its key
-- for the sweep, which erases any version a client left behind); one upload is read per résumé (another object under
-- its key is erased, not read); and a person creates at most `max_resumes_per_hour` résumés an hour.

-- 1. The rule ------------------------------------------------------------------------------------------------------

-- Whether a share by `p_owner` into `p_org` holds: the owner is a live member of the live organization, active.
CREATE FUNCTION app.share_holds(p_owner uuid, p_org uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT EXISTS (
        SELECT 1 FROM public.org_member m
        JOIN public.identities i ON i.id = m.user_id AND i.deactivated_at IS NULL
        JOIN public.org o ON o.id = m.org_id AND o.deleted_at IS NULL
        WHERE m.org_id = p_org AND m.user_id = p_owner AND m.deleted_at IS NULL)
$$;
GRANT EXECUTE ON FUNCTION app.share_holds(uuid, uuid) TO authenticated;

-- The tables that hold shares into an organization: the owner's column, the organization's, and the column that
-- marks the share (a timestamp, NULL when not shared). A module's migration registers its table here.
CREATE TABLE app.shareable (
    relation     regclass PRIMARY KEY,
    owner_column name NOT NULL,
    org_column   name NOT NULL,
    share_column name NOT NULL
);
REVOKE ALL ON app.shareable FROM PUBLIC, anon, authenticated, service;

-- Ends every share `p_owner` holds into `p_org` (every organization when NULL), in every registered table.
CREATE FUNCTION app.end_shares(p_owner uuid, p_org uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    t app.shareable;
BEGIN
    FOR t IN SELECT * FROM app.shareable LOOP
        EXECUTE format('UPDATE %s SET %I = NULL WHERE %I = $1 AND ($2 IS NULL OR %I = $2) AND %I IS NOT NULL',
                       t.relation, t.share_column, t.owner_column, t.org_column, t.share_column)
        USING p_owner, p_org;
    END LOOP;
END
$$;

CREATE FUNCTION app.end_shares_on_membership_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
        PERFORM app.end_shares(NEW.user_id, NEW.org_id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER org_member_ends_shares AFTER UPDATE OF deleted_at ON public.org_member
    FOR EACH ROW EXECUTE FUNCTION app.end_shares_on_membership_change();

CREATE FUNCTION app.end_shares_on_deactivation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NEW.deactivated_at IS NOT NULL AND OLD.deactivated_at IS NULL THEN
        PERFORM app.end_shares(NEW.id, NULL);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER identities_end_shares AFTER UPDATE OF deactivated_at ON public.identities
    FOR EACH ROW EXECUTE FUNCTION app.end_shares_on_deactivation();

-- 2. Résumés under the rule ----------------------------------------------------------------------------------------

INSERT INTO app.shareable VALUES ('public.resume', 'owner_id', 'org_id', 'shared_at');

-- Shares that outlived a membership before this migration end now.
UPDATE public.resume r SET shared_at = NULL WHERE r.shared_at IS NOT NULL AND NOT app.share_holds(r.owner_id, r.org_id);

DROP POLICY resume_select ON public.resume;
CREATE POLICY resume_select ON public.resume FOR SELECT TO authenticated
    USING (NOT erasing
           AND (owner_id = app.current_user_id()
                OR (shared_at IS NOT NULL AND org_id = ANY (app.my_org_ids()) AND app.share_holds(owner_id, org_id))));

-- Through PostgREST a member reads what the API shows: the record and its parsed sections, never the full text, the
-- storage key or the processing's bookkeeping.
REVOKE SELECT ON public.resume FROM authenticated;
GRANT SELECT (id, org_id, owner_id, content_type, state, size, sections, failure_reason, shared_at, created_at,
              parsed_at) ON public.resume TO authenticated;

CREATE OR REPLACE FUNCTION app.visible_resume(p_id uuid) RETURNS public.resume
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume;
BEGIN
    SELECT * INTO v FROM public.resume r
    WHERE r.id = p_id AND NOT r.erasing
      AND (r.owner_id = app.current_user_id()
           OR (r.shared_at IS NOT NULL AND r.org_id = ANY (app.my_org_ids()) AND app.share_holds(r.owner_id, r.org_id)));
    IF NOT FOUND THEN
        RAISE EXCEPTION 'résumé not found' USING ERRCODE = 'PT404';
    END IF;
    RETURN v;
END
$$;

-- Sharing needs the owner to be a member of the résumé's organization now; unsharing never does.
CREATE OR REPLACE FUNCTION public.share_resume(p_id uuid, p_shared boolean) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume := app.own_resume(p_id);
BEGIN
    IF p_shared AND NOT app.share_holds(v.owner_id, v.org_id) THEN
        RAISE EXCEPTION 'you are no longer a member of this résumé''s organization, so it cannot be shared there'
            USING ERRCODE = 'PT409';
    END IF;
    UPDATE public.resume SET shared_at = CASE WHEN p_shared THEN coalesce(shared_at, now()) END
    WHERE id = v.id RETURNING * INTO v;
    RETURN app.resume_json(v);
END
$$;

-- 3. Erasure only through the erasure path ------------------------------------------------------------------------

-- The key of every résumé row that went, for the sweep: whatever path removed the row (the API after erasing every
-- version, or a client of PostgREST calling the last step alone), the sweep lists the versions left under the key
-- and erases them before it forgets the key.
CREATE TABLE app.erased_resume (
    object_key text PRIMARY KEY,
    erased_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON app.erased_resume FROM PUBLIC, anon, authenticated, service;

CREATE FUNCTION app.remember_erased_resume() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    INSERT INTO app.erased_resume (object_key) VALUES (OLD.object_key)
    ON CONFLICT (object_key) DO UPDATE SET erased_at = now();
    RETURN OLD;
END
$$;
CREATE TRIGGER resume_remembers_its_key AFTER DELETE ON public.resume
    FOR EACH ROW EXECUTE FUNCTION app.remember_erased_resume();

-- The sweep (resume-module's service principal): keys of rows removed at least `p_grace_min` minutes ago, oldest
-- first, at most `p_limit`: `[{object_key}]`. A DELETE that is still at work within the grace erases them itself.
CREATE FUNCTION public.erased_resume_keys(p_grace_min integer, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_service('resume-module');
    IF p_grace_min IS NULL OR p_grace_min < 1 OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'p_grace_min at least 1, p_limit 1 to 1000' USING ERRCODE = 'PT400';
    END IF;
    RETURN coalesce((
        SELECT jsonb_agg(jsonb_build_object('object_key', e.object_key) ORDER BY e.erased_at, e.object_key)
        FROM (SELECT * FROM app.erased_resume
              WHERE erased_at < now() - make_interval(mins => p_grace_min)
              ORDER BY erased_at, object_key LIMIT p_limit) e
    ), '[]'::jsonb);
END
$$;

-- After every version under the key is gone: the key is forgotten.
CREATE FUNCTION public.forget_erased_resume(p_key text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_service('resume-module');
    DELETE FROM app.erased_resume WHERE object_key = p_key;
    RETURN FOUND;
END
$$;

-- 4. A deactivated person's résumés ---------------------------------------------------------------------------------

ALTER TABLE app.settings ADD COLUMN resume_retention_after_deactivation interval NOT NULL DEFAULT '30 days'
    CHECK (resume_retention_after_deactivation >= interval '1 day');

-- The sweep (resume-module's service principal): marks for erasure, at most `p_limit`, the résumés of owners
-- deactivated longer than the retention ago; the sweep's next run erases them as every abandoned erasure. Returns how
-- many it marked.
CREATE FUNCTION public.expire_resumes_of_deactivated(p_limit integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_retention interval := (SELECT s.resume_retention_after_deactivation FROM app.settings s);
    v_marked integer;
BEGIN
    PERFORM app.require_service('resume-module');
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'p_limit 1 to 1000' USING ERRCODE = 'PT400';
    END IF;
    WITH due AS (
        SELECT r.id FROM public.resume r JOIN public.identities i ON i.id = r.owner_id
        WHERE NOT r.erasing AND i.deactivated_at IS NOT NULL AND i.deactivated_at < now() - v_retention
        ORDER BY i.deactivated_at, r.id LIMIT p_limit
    )
    UPDATE public.resume r SET erasing = true, shared_at = NULL, text = NULL, sections = NULL
    FROM due WHERE r.id = due.id;
    GET DIAGNOSTICS v_marked = ROW_COUNT;
    RETURN v_marked;
END
$$;

-- 5. One reading per résumé, and a bound on résumés an hour ---------------------------------------------------------

-- The processor, when a document arrived under `p_key`: as in 0010, except that the résumé reads the first upload
-- it gets and no other. Another object under the same key (the upload form stays valid for minutes) is erased,
-- never read: `{skip, erase_version}`. A version already begun (a redelivery) continues as before.
CREATE OR REPLACE FUNCTION public.begin_resume_processing(p_key text, p_version text, p_size bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume;
BEGIN
    PERFORM app.require_service('resume-module');
    SELECT * INTO v FROM public.resume WHERE object_key = p_key FOR UPDATE;
    IF NOT FOUND OR v.erasing THEN
        RETURN jsonb_build_object('skip', true, 'erase', true, 'reason', 'no résumé keeps this key');
    END IF;
    IF v.version_id IS NOT NULL AND v.version_id IS DISTINCT FROM p_version THEN
        RETURN jsonb_build_object('skip', true, 'erase_version', true, 'id', v.id,
                                  'reason', 'another upload of a résumé that was uploaded already');
    END IF;
    IF v.state IN ('parsed', 'failed') THEN
        RETURN jsonb_build_object('skip', true, 'reason', 'this version was read already', 'id', v.id);
    END IF;
    IF v.state = 'processing' AND v.attempts >= 3 THEN
        UPDATE public.resume SET state = 'failed',
            failure_reason = format('it could not be read in %s attempts; upload it again, or as another type', v.attempts)
        WHERE id = v.id;
        RETURN jsonb_build_object('skip', true, 'reason', 'failed after three attempts', 'id', v.id);
    END IF;
    UPDATE public.resume SET state = 'processing', attempts = v.attempts + 1, version_id = p_version, size = p_size,
        failure_reason = NULL, text = NULL, sections = NULL, parsed_at = NULL
    WHERE id = v.id RETURNING * INTO v;
    RETURN jsonb_build_object('skip', false, 'id', v.id, 'attempts', v.attempts, 'content_type', v.content_type);
END
$$;

-- The most résumés one person creates in an hour (429 beyond): each may start one processing.
ALTER TABLE app.settings ADD COLUMN max_resumes_per_hour integer NOT NULL DEFAULT 30 CHECK (max_resumes_per_hour > 0);

-- When each removed résumé was created, by whom, for the hourly budget (kept a day).
CREATE TABLE app.resume_created (
    owner_id   uuid NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX resume_created_owner_idx ON app.resume_created (owner_id, created_at);
REVOKE ALL ON app.resume_created FROM PUBLIC, anon, authenticated, service;

CREATE FUNCTION app.remember_resume_creation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF OLD.created_at > now() - interval '1 day' THEN
        INSERT INTO app.resume_created (owner_id, created_at) VALUES (OLD.owner_id, OLD.created_at);
    END IF;
    DELETE FROM app.resume_created WHERE created_at < now() - interval '1 day';
    RETURN OLD;
END
$$;
CREATE TRIGGER resume_remembers_its_creation AFTER DELETE ON public.resume
    FOR EACH ROW EXECUTE FUNCTION app.remember_resume_creation();

CREATE OR REPLACE FUNCTION public.create_resume(p_org_id uuid, p_content_type text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v_settings app.settings := (SELECT s FROM app.settings s);
    v_id uuid := gen_random_uuid();
    v_recent bigint;
    v_oldest timestamptz;
    v public.resume;
BEGIN
    IF app.org_role(p_org_id) IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'PT404';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('resume'), hashtext(v_uid::text));
    IF (SELECT count(*) FROM public.resume WHERE owner_id = v_uid) >= v_settings.max_resumes_per_user THEN
        RAISE EXCEPTION 'you keep % résumés, the most allowed; delete one first', v_settings.max_resumes_per_user
            USING ERRCODE = 'PT409';
    END IF;
    -- Deleted ones count too: the hour's budget is for uploads started, whatever became of them.
    SELECT count(*), min(created_at) INTO v_recent, v_oldest FROM (
        SELECT created_at FROM public.resume WHERE owner_id = v_uid AND created_at > now() - interval '1 hour'
        UNION ALL
        SELECT created_at FROM app.resume_created WHERE owner_id = v_uid AND created_at > now() - interval '1 hour'
    ) recent;
    IF v_recent >= v_settings.max_resumes_per_hour THEN
        RAISE EXCEPTION 'you created % résumés in the last hour, the most allowed; try again later', v_recent
            USING ERRCODE = 'PT429',
                  HINT = greatest(ceil(extract(epoch FROM (v_oldest + interval '1 hour' - now()))), 1)::text;
    END IF;
    INSERT INTO public.resume (id, org_id, owner_id, object_key, content_type)
    VALUES (v_id, p_org_id, v_uid, format('resumes/%s/%s/%s', p_org_id, v_uid, v_id), p_content_type)
    RETURNING * INTO v;
    RETURN app.resume_json(v) || jsonb_build_object('object_key', v.object_key);
EXCEPTION WHEN check_violation THEN
    RAISE EXCEPTION 'a résumé is a PDF, a DOCX or plain text' USING ERRCODE = 'PT400';
END
$$;

-- 6. Grants ----------------------------------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION app.end_shares(uuid, uuid), app.end_shares_on_membership_change(),
    app.end_shares_on_deactivation(), app.remember_erased_resume(), app.remember_resume_creation()
    FROM PUBLIC, anon, authenticated, service;
-- resume-module's service functions (the catalog's `service_functions`): the service role only.
REVOKE ALL ON FUNCTION public.erased_resume_keys(integer, integer), public.forget_erased_resume(text),
    public.expire_resumes_of_deactivated(integer)
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.erased_resume_keys(integer, integer), public.forget_erased_resume(text),
    public.expire_resumes_of_deactivated(integer)
    TO service;

NOTIFY pgrst, 'reload schema';
