-- resume-module: erasures a client abandoned are finished by the hourly sweep (`resume-erasure-sweep`).
--
-- A DELETE marks the résumé `erasing` (invisible, its content gone), erases every version of its document, then
-- removes the row. A client that gave up after a failure in between (the store unreachable, say) and never repeated
-- the DELETE left the document's versions stored and an invisible row. The sweep lists the résumés marked long enough
-- ago that no DELETE can still be at work on them, erases their documents and removes their rows, through the two
-- service functions below (resume-module's service principal only).
--
-- Nothing updates a row marked `erasing` but a repeated DELETE (every other writer skips such rows), so its
-- `updated_at` is when its erasure last started.

CREATE INDEX resume_erasing_idx ON public.resume (updated_at) WHERE erasing;

-- The erasures started at least `p_grace_min` minutes ago, oldest first, at most `p_limit`: `[{id, object_key}]`.
CREATE FUNCTION public.abandoned_resume_erasures(p_grace_min integer, p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_service('resume-module');
    IF p_grace_min IS NULL OR p_grace_min < 1 THEN
        RAISE EXCEPTION 'p_grace_min must be at least 1 minute: a DELETE may still be at work on a newer mark'
            USING ERRCODE = 'PT400';
    END IF;
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'p_limit must be between 1 and 1000' USING ERRCODE = 'PT400';
    END IF;
    RETURN coalesce((
        SELECT jsonb_agg(jsonb_build_object('id', d.id, 'object_key', d.object_key) ORDER BY d.updated_at, d.id)
        FROM (SELECT r.id, r.object_key, r.updated_at FROM public.resume r
              WHERE r.erasing AND r.updated_at < now() - make_interval(mins => p_grace_min)
              ORDER BY r.updated_at, r.id LIMIT p_limit) d
    ), '[]'::jsonb);
END
$$;

-- After every version of its document is gone: the abandoned erasure's row goes too. False when there is no such
-- row any more (the owner's repeated DELETE finished it first) or it is not being erased.
CREATE FUNCTION public.finish_resume_erasure(p_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_service('resume-module');
    DELETE FROM public.resume WHERE id = p_id AND erasing;
    RETURN FOUND;
END
$$;

-- resume-module's service functions (the catalog's `service_functions`): the service role only.
REVOKE ALL ON FUNCTION public.abandoned_resume_erasures(integer, integer), public.finish_resume_erasure(uuid)
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.abandoned_resume_erasures(integer, integer), public.finish_resume_erasure(uuid)
    TO service;

NOTIFY pgrst, 'reload schema';
