-- Identities that hold up: platform admin needs an active identity and the environment's admin group;
-- uniqueness over active identities only, so deactivation is reversible and a subject or e-mail can come back;
-- the Okta user id next to the login; a deactivated identity is refused everywhere.

-- The environment's settings the database needs. `cargo xtask db migrate --env <env>` writes them from the stacks'
-- settings table, so the Lambdas (ADMIN_GROUP) and the database agree.
CREATE TABLE app.settings (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    admin_group       text NOT NULL DEFAULT 'career-platform-admins'
                      CHECK (length(admin_group) BETWEEN 1 AND 255 AND lower(admin_group) <> 'admin'),
    max_orgs_per_user integer NOT NULL DEFAULT 20 CHECK (max_orgs_per_user > 0),
    invitation_ttl    interval NOT NULL DEFAULT '7 days' CHECK (invitation_ttl > interval '0')
);
INSERT INTO app.settings DEFAULT VALUES;
REVOKE ALL ON app.settings FROM PUBLIC, anon, authenticated;

-- Platform admin: an active provisioned identity whose token names the admin group. `groups` must be a JSON array;
-- anything else is ignored.
CREATE OR REPLACE FUNCTION app.is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT coalesce(
        jsonb_typeof(app.jwt_claims() -> 'groups') = 'array'
        AND (app.jwt_claims() -> 'groups') ? (SELECT s.admin_group FROM app.settings s)
        AND app.current_user_id() IS NOT NULL,
        false)
$$;

-- The caller's active identity, or an error: every API function starts here, so a deactivated or unprovisioned
-- caller is refused everywhere with the same answer.
CREATE FUNCTION app.require_caller() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v uuid := app.current_user_id();
BEGIN
    IF v IS NULL THEN
        RAISE EXCEPTION 'the caller has no active identity on this platform' USING ERRCODE = '42501';
    END IF;
    RETURN v;
END
$$;

CREATE FUNCTION app.require_admin() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v uuid := app.require_caller();
BEGIN
    IF NOT app.is_admin() THEN
        RAISE EXCEPTION 'platform admin access required' USING ERRCODE = '42501';
    END IF;
    RETURN v;
END
$$;

GRANT EXECUTE ON FUNCTION app.require_caller(), app.require_admin() TO authenticated;

-- Uniqueness over active identities only.
DROP INDEX public.identities_idp_subject_key;
DROP INDEX public.identities_email_key;
CREATE UNIQUE INDEX identities_active_subject_key ON public.identities (idp_subject) WHERE deactivated_at IS NULL;
CREATE UNIQUE INDEX identities_active_email_key ON public.identities (lower(email)) WHERE deactivated_at IS NULL;
CREATE INDEX identities_subject_idx ON public.identities (idp_subject);

-- The Okta user id (`00u…`): lifecycle calls address users by it; the login stays the subject tokens carry.
ALTER TABLE public.identities ADD COLUMN okta_id text CHECK (okta_id ~ '^[A-Za-z0-9]{1,64}$');
CREATE UNIQUE INDEX identities_active_okta_id_key ON public.identities (okta_id) WHERE deactivated_at IS NULL;

-- identities: yourself while active, or everyone (deactivated ones included, to reactivate them) for admins.
DROP POLICY identities_select ON public.identities;
CREATE POLICY identities_select ON public.identities FOR SELECT TO authenticated
    USING ((deactivated_at IS NULL AND idp_subject = app.current_subject()) OR app.is_admin());
-- Identities change only through the functions below, which keep Okta and the database in step.
DROP POLICY identities_insert ON public.identities;
DROP POLICY identities_update ON public.identities;
REVOKE INSERT, UPDATE ON public.identities FROM authenticated;

-- The platform's view of one identity (the API's `Identity`).
CREATE FUNCTION app.identity_json(i public.identities) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('id', i.id, 'idp_subject', i.idp_subject, 'okta_id', i.okta_id, 'email', i.email,
        'first_name', i.first_name, 'last_name', i.last_name, 'created_at', i.created_at,
        'updated_at', i.updated_at, 'deactivated_at', i.deactivated_at)
$$;

-- POST /identities and /identities/link (admin), after the Okta step: record the identity. Idempotent by subject: the
-- same request again returns the same identity, so a retry after a failed database step completes it. A deactivated
-- identity with this subject is reactivated (with its profile) instead of duplicated.
DROP FUNCTION public.provision_identity(text, text, text, text);
CREATE FUNCTION public.provision_identity(p_idp_subject text, p_email text, p_first_name text DEFAULT NULL,
                                          p_last_name text DEFAULT NULL, p_okta_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_admin uuid := app.require_admin();
    v public.identities;
BEGIN
    SELECT * INTO v FROM public.identities WHERE idp_subject = p_idp_subject AND deactivated_at IS NULL;
    IF FOUND THEN
        IF v.okta_id IS DISTINCT FROM p_okta_id OR lower(v.email) <> lower(p_email) THEN
            RAISE EXCEPTION 'another identity already has the subject %', p_idp_subject USING ERRCODE = '23505';
        END IF;
        RETURN app.identity_json(v);
    END IF;
    SELECT * INTO v FROM public.identities WHERE idp_subject = p_idp_subject
    ORDER BY deactivated_at DESC LIMIT 1 FOR UPDATE;
    IF FOUND THEN
        UPDATE public.identities SET deactivated_at = NULL, email = p_email, okta_id = p_okta_id,
            first_name = coalesce(p_first_name, first_name), last_name = coalesce(p_last_name, last_name)
        WHERE id = v.id RETURNING * INTO v;
        UPDATE public.profiles SET deleted_at = NULL WHERE id = v.id;
        RETURN app.identity_json(v);
    END IF;
    INSERT INTO public.identities (idp_subject, email, first_name, last_name, okta_id, created_by)
    VALUES (p_idp_subject, p_email, p_first_name, p_last_name, p_okta_id, v_admin)
    RETURNING * INTO v;
    INSERT INTO public.profiles (id, first_name, last_name, created_by)
    VALUES (v.id, p_first_name, p_last_name, v_admin);
    RETURN app.identity_json(v);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'an active identity with this subject, e-mail or Okta user already exists' USING ERRCODE = '23505';
END
$$;

-- What stops deactivating an identity: the first live organization of which it is the last active owner (NULL when
-- nothing does). The handler asks before it touches Okta, so a refusal leaves everything as it was.
CREATE FUNCTION public.deactivation_blocker(p_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_admin();
    RETURN (SELECT format('%s (%s)', o.name, o.id) FROM public.org o
    JOIN public.org_member m ON m.org_id = o.id
    WHERE m.user_id = p_id AND m.role = 'owner' AND m.deleted_at IS NULL AND o.deleted_at IS NULL
      AND NOT EXISTS (
          SELECT 1 FROM public.org_member m2 JOIN public.identities i2 ON i2.id = m2.user_id
          WHERE m2.org_id = o.id AND m2.role = 'owner' AND m2.deleted_at IS NULL AND m2.user_id <> p_id
            AND i2.deactivated_at IS NULL)
    ORDER BY o.created_at, o.id
    LIMIT 1);
END
$$;

-- DELETE /identities/{id} (admin): deactivate; the identity, its profile and memberships stay, marked or unused,
-- so reactivation restores them. Refused (P0409, naming the organization) for the last active owner of a live
-- organization; the owners' organizations are locked first, so two deactivations cannot race past the rule.
DROP FUNCTION public.deactivate_identity(uuid);
CREATE FUNCTION public.deactivate_identity(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_blocker text;
    v public.identities;
BEGIN
    PERFORM app.require_admin();
    PERFORM 1 FROM public.org o JOIN public.org_member m ON m.org_id = o.id
    WHERE m.user_id = p_id AND m.role = 'owner' AND m.deleted_at IS NULL AND o.deleted_at IS NULL
    ORDER BY o.id FOR UPDATE OF o;
    v_blocker := public.deactivation_blocker(p_id);
    IF v_blocker IS NOT NULL THEN
        RAISE EXCEPTION 'cannot deactivate the last active owner of %; make another member owner first', v_blocker
            USING ERRCODE = 'P0409';
    END IF;
    UPDATE public.identities SET deactivated_at = now() WHERE id = p_id AND deactivated_at IS NULL RETURNING * INTO v;
    IF NOT FOUND THEN
        SELECT * INTO v FROM public.identities WHERE id = p_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'identity not found' USING ERRCODE = 'P0002';
        END IF;
        RETURN app.identity_json(v);  -- already deactivated: the same request again changes nothing
    END IF;
    UPDATE public.profiles SET deleted_at = coalesce(deleted_at, now()) WHERE id = p_id;
    RETURN app.identity_json(v);
END
$$;

-- POST /identities/{id}/reactivate (admin), after Okta: the identity and its profile come back. Refused when another
-- active identity took its subject or e-mail meanwhile.
CREATE FUNCTION public.reactivate_identity(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.identities;
BEGIN
    PERFORM app.require_admin();
    UPDATE public.identities SET deactivated_at = NULL WHERE id = p_id RETURNING * INTO v;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identity not found' USING ERRCODE = 'P0002';
    END IF;
    UPDATE public.profiles SET deleted_at = NULL WHERE id = p_id;
    RETURN app.identity_json(v);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'another active identity has this subject or e-mail now' USING ERRCODE = '23505';
END
$$;

-- GET /identities/{id}: yourself while active, anyone for admins; 404 otherwise.
CREATE FUNCTION public.get_identity(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_caller uuid := app.require_caller();
    v public.identities;
BEGIN
    SELECT * INTO v FROM public.identities WHERE id = p_id AND (id = v_caller OR app.is_admin());
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identity not found' USING ERRCODE = 'P0002';
    END IF;
    RETURN app.identity_json(v);
END
$$;

-- What the lifecycle routes check before they touch Okta, so that a refusal leaves Okta and the database as they
-- were (admin): the identity, the organization that blocks its deactivation, and what blocks its reactivation.
CREATE FUNCTION public.identity_for_lifecycle(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.identities;
BEGIN
    PERFORM app.require_admin();
    SELECT * INTO v FROM public.identities WHERE id = p_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identity not found' USING ERRCODE = 'P0002';
    END IF;
    RETURN app.identity_json(v) || jsonb_build_object(
        'deactivation_blocker', CASE WHEN v.deactivated_at IS NULL THEN public.deactivation_blocker(p_id) END,
        'reactivation_conflict', CASE WHEN v.deactivated_at IS NOT NULL THEN (
            SELECT format('identity %s is active with this subject or e-mail', o.id) FROM public.identities o
            WHERE o.deactivated_at IS NULL AND o.id <> v.id
              AND (o.idp_subject = v.idp_subject OR lower(o.email) = lower(v.email))
            LIMIT 1) END);
END
$$;

-- Before POST /identities creates an Okta user: an active identity with this e-mail under another subject would
-- make the database step fail after Okta's, so it is refused first (admin). NULL when nothing conflicts.
CREATE FUNCTION public.provision_conflict(p_idp_subject text, p_email text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_admin();
    RETURN (SELECT format('identity %s already has the e-mail %s', i.id, i.email) FROM public.identities i
            WHERE i.deactivated_at IS NULL AND lower(i.email) = lower(p_email) AND i.idp_subject <> p_idp_subject
            LIMIT 1);
END
$$;

REVOKE ALL ON FUNCTION public.provision_identity(text, text, text, text, text), public.deactivation_blocker(uuid),
    public.deactivate_identity(uuid), public.reactivate_identity(uuid), public.get_identity(uuid),
    public.identity_for_lifecycle(uuid), public.provision_conflict(text, text), app.identity_json(public.identities)
    FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.provision_identity(text, text, text, text, text), public.deactivation_blocker(uuid),
    public.deactivate_identity(uuid), public.reactivate_identity(uuid), public.get_identity(uuid),
    public.identity_for_lifecycle(uuid), public.provision_conflict(text, text), app.identity_json(public.identities)
    TO authenticated;
