-- The reconciliation's cursor never lies in the future. One user whose status changed "in the year 9999", as an
-- answer claimed, moved it there, and every later run asked Okta only for changes after that: no deactivation was
-- applied again. The worker now keeps the cursor at its run's start at most (and says so in its event line); the
-- database holds it to the same, and a cursor already past now comes back to now.

UPDATE app.idp_sync SET cursor_at = now(), cursor_ids = '{}' WHERE cursor_at > now();

CREATE OR REPLACE FUNCTION public.deactivate_from_idp(p_users jsonb, p_cursor_at timestamptz, p_cursor_ids text[])
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_ids uuid[];
    v_cursor timestamptz := least(p_cursor_at, now());
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
        cursor_ids = CASE WHEN v_cursor > cursor_at THEN p_cursor_ids
                          WHEN v_cursor = cursor_at THEN ARRAY(SELECT DISTINCT unnest(cursor_ids || p_cursor_ids))
                          ELSE cursor_ids END,
        cursor_at = greatest(cursor_at, v_cursor),
        last_run_at = now(), last_deactivated = cardinality(v_ids), runs = runs + 1;
    RETURN jsonb_build_object('deactivated', cardinality(v_ids));
END
$$;

NOTIFY pgrst, 'reload schema';
