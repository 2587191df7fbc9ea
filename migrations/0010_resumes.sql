-- resume-module: résumés, their documents' processing, and who sees them.
--
-- A résumé belongs to its owner and to one of the owner's organizations; the owner sees it, and the organization's
-- members see it while the owner shares it; nobody else sees anything of it (404). Its document is uploaded by the
-- owner straight to S3 under the key recorded here; the processor (resume-module's service principal) reads it and
-- records the outcome through the two service functions, which are all it may execute.
--
-- Deleting is an erasure: the record is marked `erasing` (invisible from then on, its text and sections gone), the API
-- erases every version of the object, then the record goes. A DELETE that fails halfway can be repeated. An object
-- that arrives for a résumé being erased or gone (a late upload: the form stays valid for minutes) is erased by the
-- processor on arrival.

CREATE TYPE public.resume_state AS ENUM ('uploaded', 'processing', 'parsed', 'failed');

CREATE TABLE public.resume (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         uuid NOT NULL REFERENCES public.org (id),
    owner_id       uuid NOT NULL REFERENCES public.identities (id),
    object_key     text NOT NULL UNIQUE CHECK (object_key ~ '^resumes/[0-9a-f-]{36}/[0-9a-f-]{36}/[0-9a-f-]{36}$'),
    content_type   text NOT NULL CHECK (content_type IN ('application/pdf', 'text/plain',
                       'application/vnd.openxmlformats-officedocument.wordprocessingml.document')),
    state          public.resume_state NOT NULL DEFAULT 'uploaded',
    attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    version_id     text CHECK (length(version_id) <= 1024),
    size           bigint CHECK (size >= 0),
    text           text CHECK (length(text) <= 1000000),
    sections       jsonb,
    failure_reason text CHECK (length(failure_reason) <= 500),
    shared_at      timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    parsed_at      timestamptz,
    erasing        boolean NOT NULL DEFAULT false,
    CHECK ((state = 'failed') = (failure_reason IS NOT NULL))
);
CREATE INDEX resume_owner_idx ON public.resume (owner_id, created_at DESC);
CREATE INDEX resume_shared_org_idx ON public.resume (org_id) WHERE shared_at IS NOT NULL;
CREATE TRIGGER resume_updated_at BEFORE UPDATE ON public.resume FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
ALTER TABLE public.resume ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.resume FROM PUBLIC, anon, authenticated, service;
GRANT SELECT ON public.resume TO authenticated;
CREATE POLICY resume_select ON public.resume FOR SELECT TO authenticated
    USING (NOT erasing
           AND (owner_id = app.current_user_id() OR (shared_at IS NOT NULL AND org_id = ANY (app.my_org_ids()))));

-- The most résumés one person keeps (409 beyond).
ALTER TABLE app.settings ADD COLUMN max_resumes_per_user integer NOT NULL DEFAULT 20 CHECK (max_resumes_per_user > 0);

-- The API's `Resume`.
CREATE FUNCTION app.resume_json(r public.resume) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT jsonb_build_object('id', r.id, 'org_id', r.org_id, 'owner_id', r.owner_id, 'content_type', r.content_type,
        'state', r.state, 'size', r.size, 'failure_reason', r.failure_reason,
        'sections', CASE WHEN r.state = 'parsed' THEN r.sections END,
        'shared', r.shared_at IS NOT NULL, 'created_at', r.created_at, 'parsed_at', r.parsed_at)
$$;

-- A résumé the caller may see, or 404 (whose existence is not revealed).
CREATE FUNCTION app.visible_resume(p_id uuid) RETURNS public.resume
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume;
BEGIN
    SELECT * INTO v FROM public.resume r
    WHERE r.id = p_id AND NOT r.erasing AND (r.owner_id = app.current_user_id()
                           OR (r.shared_at IS NOT NULL AND r.org_id = ANY (app.my_org_ids())));
    IF NOT FOUND THEN
        RAISE EXCEPTION 'résumé not found' USING ERRCODE = 'PT404';
    END IF;
    RETURN v;
END
$$;

-- The caller's own résumé, locked, or 404 (a member it is shared with may read it, not change it); one being erased
-- only when `p_erasing` (a repeated DELETE).
CREATE FUNCTION app.own_resume(p_id uuid, p_erasing boolean DEFAULT false) RETURNS public.resume
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume;
BEGIN
    SELECT * INTO v FROM public.resume WHERE id = p_id AND owner_id = app.require_caller() AND (p_erasing OR NOT erasing)
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'résumé not found' USING ERRCODE = 'PT404';
    END IF;
    RETURN v;
END
$$;

-- POST /resumes: a new résumé of the caller in one of their organizations, under a key the platform chooses.
CREATE FUNCTION public.create_resume(p_org_id uuid, p_content_type text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v_limit integer := (SELECT s.max_resumes_per_user FROM app.settings s);
    v_id uuid := gen_random_uuid();
    v public.resume;
BEGIN
    IF app.org_role(p_org_id) IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'PT404';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('resume'), hashtext(v_uid::text));
    IF (SELECT count(*) FROM public.resume WHERE owner_id = v_uid) >= v_limit THEN
        RAISE EXCEPTION 'you keep % résumés, the most allowed; delete one first', v_limit USING ERRCODE = 'PT409';
    END IF;
    INSERT INTO public.resume (id, org_id, owner_id, object_key, content_type)
    VALUES (v_id, p_org_id, v_uid, format('resumes/%s/%s/%s', p_org_id, v_uid, v_id), p_content_type)
    RETURNING * INTO v;
    RETURN app.resume_json(v) || jsonb_build_object('object_key', v.object_key);
EXCEPTION WHEN check_violation THEN
    RAISE EXCEPTION 'a résumé is a PDF, a DOCX or plain text' USING ERRCODE = 'PT400';
END
$$;

-- GET /resumes: the caller's own.
CREATE FUNCTION public.list_my_resumes() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT coalesce(jsonb_agg(app.resume_json(r) ORDER BY r.created_at DESC, r.id), '[]'::jsonb)
    FROM public.resume r WHERE r.owner_id = app.require_caller() AND NOT r.erasing
$$;

-- GET /resumes/{id}.
CREATE FUNCTION public.get_resume(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT app.resume_json(app.visible_resume(p_id))
$$;

-- POST and DELETE /resumes/{id}/share (the owner): shared with its organization's members, or not.
CREATE FUNCTION public.share_resume(p_id uuid, p_shared boolean) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume := app.own_resume(p_id);
BEGIN
    UPDATE public.resume SET shared_at = CASE WHEN p_shared THEN coalesce(shared_at, now()) END
    WHERE id = v.id RETURNING * INTO v;
    RETURN app.resume_json(v);
END
$$;

-- DELETE /resumes/{id}, first step (the owner): the record is marked erasing (invisible, its content gone) and the
-- object key returned, whose every version the API then erases.
CREATE FUNCTION public.resume_to_erase(p_id uuid) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume := app.own_resume(p_id, true);
BEGIN
    UPDATE public.resume SET erasing = true, shared_at = NULL, text = NULL, sections = NULL WHERE id = v.id;
    RETURN v.object_key;
END
$$;

-- DELETE /resumes/{id}, last step (the owner), once every version of the object is gone: the record goes too.
CREATE FUNCTION public.delete_resume(p_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume := app.own_resume(p_id, true);
BEGIN
    IF NOT v.erasing THEN
        RAISE EXCEPTION 'erase the résumé''s document first (resume_to_erase)' USING ERRCODE = 'PT409';
    END IF;
    DELETE FROM public.resume WHERE id = v.id;
END
$$;

-- The processor (resume-module's service principal), when a document arrived under `p_key`: the résumé and what
-- to do. `skip` when there is nothing to do: this version was read already; or no résumé keeps it (erased, or being
-- erased: a late upload), and then `erase` too, for the processor to erase the object. Each start of the same
-- version counts: a version started three times without an outcome (the function killed, the database gone at the
-- end) is failed instead of read a fourth time.
CREATE FUNCTION public.begin_resume_processing(p_key text, p_version text, p_size bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.resume;
BEGIN
    PERFORM app.require_service('resume-module');
    SELECT * INTO v FROM public.resume WHERE object_key = p_key FOR UPDATE;
    IF NOT FOUND OR v.erasing THEN
        RETURN jsonb_build_object('skip', true, 'erase', true, 'reason', 'no résumé keeps this key');
    END IF;
    IF v.state IN ('parsed', 'failed') AND v.version_id IS NOT DISTINCT FROM p_version THEN
        RETURN jsonb_build_object('skip', true, 'reason', 'this version was read already', 'id', v.id);
    END IF;
    IF v.version_id IS DISTINCT FROM p_version THEN
        v.attempts := 0;  -- a new upload of the same key starts afresh
    ELSIF v.state = 'processing' AND v.attempts >= 3 THEN
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

-- The processor's outcome for a résumé it began: parsed with its text and sections, or failed with the reason.
CREATE FUNCTION public.finish_resume_processing(p_id uuid, p_version text, p_parsed boolean, p_text text DEFAULT NULL,
                                                p_sections jsonb DEFAULT NULL, p_reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_service('resume-module');
    UPDATE public.resume SET
        state = CASE WHEN p_parsed THEN 'parsed' ELSE 'failed' END::public.resume_state,
        text = CASE WHEN p_parsed THEN left(p_text, 1000000) END,
        sections = CASE WHEN p_parsed THEN p_sections END,
        failure_reason = CASE WHEN p_parsed THEN NULL ELSE left(coalesce(p_reason, 'could not be read'), 500) END,
        parsed_at = CASE WHEN p_parsed THEN now() END
    WHERE id = p_id AND version_id IS NOT DISTINCT FROM p_version AND state = 'processing' AND NOT erasing;
    RETURN FOUND;
END
$$;

REVOKE ALL ON FUNCTION app.resume_json(public.resume), app.visible_resume(uuid), app.own_resume(uuid, boolean)
    FROM PUBLIC, anon, authenticated, service;
REVOKE ALL ON FUNCTION public.create_resume(uuid, text), public.list_my_resumes(), public.get_resume(uuid),
    public.share_resume(uuid, boolean), public.resume_to_erase(uuid), public.delete_resume(uuid)
    FROM PUBLIC, anon, service;
GRANT EXECUTE ON FUNCTION public.create_resume(uuid, text), public.list_my_resumes(), public.get_resume(uuid),
    public.share_resume(uuid, boolean), public.resume_to_erase(uuid), public.delete_resume(uuid)
    TO authenticated;
-- resume-module's service functions (the catalog's `service_functions`): the service role only.
REVOKE ALL ON FUNCTION public.begin_resume_processing(text, text, bigint),
    public.finish_resume_processing(uuid, text, boolean, text, jsonb, text)
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.begin_resume_processing(text, text, bigint),
    public.finish_resume_processing(uuid, text, boolean, text, jsonb, text)
    TO service;

NOTIFY pgrst, 'reload schema';
