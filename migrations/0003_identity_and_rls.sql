-- Who is calling, and Row-Level Security on every table.
--
-- Identity comes only from the request's JWT claims (`request.jwt.claims`, set by PostgREST per request, inside
-- the request's own transaction). A session-level "set the user id" RPC is deliberately absent: each PostgREST
-- request is its own transaction, so such a setting never reaches the next request, and a session-scoped one
-- would leak one caller's identity to the next request on a pooled connection.

CREATE FUNCTION app.jwt_claims() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

-- The identity provider's subject of the caller (text: Okta subjects are not UUIDs).
CREATE FUNCTION app.current_subject() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT app.jwt_claims() ->> 'sub'
$$;

-- True when the caller's token carries the `admin` group.
CREATE FUNCTION app.is_admin() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_typeof(app.jwt_claims() -> 'groups') = 'array'
                    AND (app.jwt_claims() -> 'groups') ? 'admin', false)
$$;

-- The caller's platform user id, through the identities table; NULL when not provisioned or deactivated.
CREATE FUNCTION app.current_user_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT i.id FROM public.identities i
    WHERE i.idp_subject = app.current_subject() AND i.deactivated_at IS NULL
$$;

-- The caller's role in an organization; NULL when not a live member of a live organization.
CREATE FUNCTION app.org_role(p_org_id uuid) RETURNS public.org_role
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT m.role FROM public.org_member m JOIN public.org o ON o.id = m.org_id
    WHERE m.org_id = p_org_id AND m.user_id = app.current_user_id()
      AND m.deleted_at IS NULL AND o.deleted_at IS NULL
$$;

-- The seed's helper: may the caller see this organization's data?
CREATE FUNCTION app.can_access_org_data(p_org_id uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT app.org_role(p_org_id) IS NOT NULL
$$;

GRANT EXECUTE ON FUNCTION app.jwt_claims(), app.current_subject(), app.is_admin(), app.current_user_id(),
    app.org_role(uuid), app.can_access_org_data(uuid) TO authenticated;

ALTER TABLE public.identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.org ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.org_member ENABLE ROW LEVEL SECURITY;

-- identities: yourself or, for admins, everyone; deactivated identities are invisible.
CREATE POLICY identities_select ON public.identities FOR SELECT TO authenticated
    USING (deactivated_at IS NULL AND (idp_subject = app.current_subject() OR app.is_admin()));
CREATE POLICY identities_insert ON public.identities FOR INSERT TO authenticated
    WITH CHECK (app.is_admin());
CREATE POLICY identities_update ON public.identities FOR UPDATE TO authenticated
    USING (app.is_admin()) WITH CHECK (app.is_admin());
-- No DELETE policy: identities are deactivated, never removed.

-- profiles: your own or, for admins, everyone's; deleted profiles are invisible.
CREATE POLICY profiles_select ON public.profiles FOR SELECT TO authenticated
    USING (deleted_at IS NULL AND (id = app.current_user_id() OR app.is_admin()));
CREATE POLICY profiles_insert ON public.profiles FOR INSERT TO authenticated
    WITH CHECK (app.is_admin());
CREATE POLICY profiles_update ON public.profiles FOR UPDATE TO authenticated
    USING (deleted_at IS NULL AND (id = app.current_user_id() OR app.is_admin()))
    WITH CHECK (id = app.current_user_id() OR app.is_admin());

-- org: members see their organizations; owners and org admins update them. Creation goes through
-- create_org_with_member(), which also makes the owner membership.
CREATE POLICY org_select ON public.org FOR SELECT TO authenticated
    USING (deleted_at IS NULL AND app.can_access_org_data(id));
CREATE POLICY org_update ON public.org FOR UPDATE TO authenticated
    USING (deleted_at IS NULL AND app.org_role(id) IN ('owner', 'admin'))
    WITH CHECK (app.org_role(id) IN ('owner', 'admin'));

-- org_member: members see the memberships of their organizations. Changes go through add_org_member() and
-- remove_org_member(), which enforce the role rules.
CREATE POLICY org_member_select ON public.org_member FOR SELECT TO authenticated
    USING (deleted_at IS NULL AND app.can_access_org_data(org_id));

-- Grants: nothing for anon; for authenticated only the columns the API writes. No DELETE anywhere.
REVOKE ALL ON public.identities, public.profiles, public.org, public.org_member FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.identities, public.profiles, public.org, public.org_member TO authenticated;
GRANT INSERT (idp_subject, email, first_name, last_name, created_by) ON public.identities TO authenticated;
GRANT UPDATE (email, first_name, last_name) ON public.identities TO authenticated;
GRANT INSERT (id, first_name, last_name, phone, created_by) ON public.profiles TO authenticated;
GRANT UPDATE (first_name, last_name, phone) ON public.profiles TO authenticated;
GRANT UPDATE (name, description) ON public.org TO authenticated;
