-- template-module: the gizmos table. `cargo xtask new-module` copies this file into migrations/ (renamed, with
-- the next number); add the entity's own columns there. Rows belong to an organization; Row-Level Security lets
-- its members see and change them, through the caller's organizations (one index scan, whatever the table holds).

CREATE TABLE public.gizmos (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id     uuid NOT NULL REFERENCES public.org (id),
    name       app.person_name NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES public.identities (id) DEFAULT app.current_user_id(),
    deleted_at timestamptz
);
CREATE INDEX gizmos_org_id_idx ON public.gizmos (org_id) WHERE deleted_at IS NULL;
CREATE INDEX gizmos_created_by_idx ON public.gizmos (created_by);
CREATE TRIGGER gizmos_updated_at BEFORE UPDATE ON public.gizmos FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();

ALTER TABLE public.gizmos ENABLE ROW LEVEL SECURITY;
CREATE POLICY gizmos_select ON public.gizmos FOR SELECT TO authenticated
    USING (deleted_at IS NULL AND org_id = ANY (app.my_org_ids()));
CREATE POLICY gizmos_insert ON public.gizmos FOR INSERT TO authenticated
    WITH CHECK (org_id = ANY (app.my_org_ids()));
CREATE POLICY gizmos_update ON public.gizmos FOR UPDATE TO authenticated
    USING (deleted_at IS NULL AND org_id = ANY (app.my_org_ids())) WITH CHECK (org_id = ANY (app.my_org_ids()));

REVOKE ALL ON public.gizmos FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.gizmos TO authenticated;
GRANT INSERT (org_id, name) ON public.gizmos TO authenticated;
GRANT UPDATE (name) ON public.gizmos TO authenticated;

-- Soft delete (definer: the deleted row is no longer visible to the caller).
CREATE FUNCTION public.delete_gizmo(p_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_caller();
    UPDATE public.gizmos SET deleted_at = now()
    WHERE id = p_id AND deleted_at IS NULL AND org_id = ANY (app.my_org_ids());
    IF NOT FOUND THEN
        RAISE EXCEPTION 'gizmo not found' USING ERRCODE = 'PT404';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION public.delete_gizmo(uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.delete_gizmo(uuid) TO authenticated;

-- What the functions without a caller do, each as the module's service principal (`app.require_service`), which may
-- execute these and nothing else (the catalog's `service_functions`).
ALTER TABLE public.gizmos ADD COLUMN indexed_at timestamptz;

-- The indexer: marks a gizmo indexed (the same message twice has one effect). False when there is no such gizmo.
CREATE FUNCTION public.index_gizmo(p_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_service('template-module');
    UPDATE public.gizmos SET indexed_at = now() WHERE id = p_id AND deleted_at IS NULL;
    RETURN FOUND;
END
$$;

-- The nightly sweep: gizmos deleted more than 30 days ago are gone for good. The number purged.
CREATE FUNCTION public.sweep_gizmos() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_count integer;
BEGIN
    PERFORM app.require_service('template-module');
    DELETE FROM public.gizmos WHERE deleted_at < now() - interval '30 days';
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- Documents created under the module's prefix, each recorded once (an event delivered twice has one effect).
CREATE TABLE public.gizmo_uploads (
    key         text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 1024),
    size        bigint NOT NULL CHECK (size >= 0),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.gizmo_uploads ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.gizmo_uploads FROM PUBLIC, anon, authenticated;

CREATE FUNCTION public.record_gizmo_upload(p_key text, p_size bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_service('template-module');
    INSERT INTO public.gizmo_uploads (key, size) VALUES (p_key, p_size) ON CONFLICT (key) DO NOTHING;
    RETURN FOUND;
END
$$;

REVOKE ALL ON FUNCTION public.index_gizmo(uuid), public.sweep_gizmos(), public.record_gizmo_upload(text, bigint)
    FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON FUNCTION public.index_gizmo(uuid), public.sweep_gizmos(), public.record_gizmo_upload(text, bigint)
    TO service;
