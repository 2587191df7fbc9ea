-- Memberships that hold up: Row-Level Security driven by the caller's own organizations (a list costs what the
-- caller can see, not the table), invitations with consent instead of adding people, ownership only by promoting
-- an active member, last-owner rules over active identities, members who see each other's names, a per-user limit
-- on organizations, and every request refused for a caller without an active identity.

-- The caller's live organizations, once per query: policies compare with it as `id = ANY (…)`, which the planner
-- turns into an index scan instead of a function call per row of the table.
CREATE FUNCTION app.my_org_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT coalesce(array_agg(m.org_id), '{}') FROM public.org_member m JOIN public.org o ON o.id = m.org_id
    WHERE m.user_id = app.current_user_id() AND m.deleted_at IS NULL AND o.deleted_at IS NULL
$$;
GRANT EXECUTE ON FUNCTION app.my_org_ids() TO authenticated;

DROP POLICY org_select ON public.org;
CREATE POLICY org_select ON public.org FOR SELECT TO authenticated
    USING (deleted_at IS NULL AND id = ANY (app.my_org_ids()));
DROP POLICY org_member_select ON public.org_member;
CREATE POLICY org_member_select ON public.org_member FOR SELECT TO authenticated
    USING (deleted_at IS NULL AND org_id = ANY (app.my_org_ids()));

-- Every request through PostgREST runs this first (its `db-pre-request`; the local server is given the same
-- setting): a caller whose token names a subject without an active identity is refused everywhere, and no token
-- may switch to a role other than `authenticated` (Supabase's `service_role` bypasses Row-Level Security).
CREATE FUNCTION app.check_request() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_role text := app.jwt_claims() ->> 'role';
BEGIN
    IF v_role IS NULL OR v_role = 'anon' THEN
        RETURN;  -- no token: the anon role, which is granted nothing
    END IF;
    IF v_role <> 'authenticated' THEN
        RAISE EXCEPTION 'tokens may only act as authenticated' USING ERRCODE = '42501';
    END IF;
    IF app.current_user_id() IS NULL THEN
        RAISE EXCEPTION 'the caller has no active identity on this platform' USING ERRCODE = '42501';
    END IF;
END
$$;
GRANT EXECUTE ON FUNCTION app.check_request() TO PUBLIC;
-- Supabase has `service_role` (BYPASSRLS); a plain PostgreSQL gets the same role, so tests prove the refusal above.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
END
$$;
GRANT service_role TO authenticator;
ALTER ROLE authenticator SET pgrst.db_pre_request TO 'app.check_request';
NOTIFY pgrst, 'reload config';

-- The owner is a role in org_member, not a column that could name someone who left.
CREATE OR REPLACE FUNCTION public.create_org_with_member(p_name text, p_description text DEFAULT NULL)
RETURNS public.org
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v_limit integer := (SELECT s.max_orgs_per_user FROM app.settings s);
    v public.org;
BEGIN
    -- One creation at a time per user, so the limit cannot be raced past.
    PERFORM pg_advisory_xact_lock(hashtext('create_org'), hashtext(v_uid::text));
    IF (SELECT count(*) FROM public.org o WHERE o.created_by = v_uid AND o.deleted_at IS NULL) >= v_limit THEN
        RAISE EXCEPTION 'you have reached the limit of % organizations', v_limit USING ERRCODE = 'P0409';
    END IF;
    INSERT INTO public.org (name, description, created_by)
    VALUES (p_name, p_description, v_uid)
    RETURNING * INTO v;
    INSERT INTO public.org_member (org_id, user_id, role, created_by)
    VALUES (v.id, v_uid, 'owner', v_uid);
    RETURN v;
END
$$;
ALTER TABLE public.org DROP COLUMN owner_id;
CREATE INDEX org_live_created_by_idx ON public.org (created_by) WHERE deleted_at IS NULL;

-- Active owners of an organization (deactivated identities do not count).
CREATE FUNCTION app.active_owner_count(p_org_id uuid) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT count(*) FROM public.org_member m JOIN public.identities i ON i.id = m.user_id
    WHERE m.org_id = p_org_id AND m.role = 'owner' AND m.deleted_at IS NULL AND i.deactivated_at IS NULL
$$;

-- The API's `Membership`.
CREATE FUNCTION app.membership_json(m public.org_member) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('id', m.id, 'org_id', m.org_id, 'user_id', m.user_id, 'role', m.role,
                              'created_at', m.created_at)
$$;

-- Invitations: consent before membership. Never for owner; addressed to an e-mail; pending until accepted,
-- declined or expired.
CREATE TYPE public.invite_role AS ENUM ('admin', 'member');
CREATE TABLE public.org_invitation (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES public.org (id),
    email       app.email NOT NULL,
    role        public.invite_role NOT NULL DEFAULT 'member',
    invited_by  uuid NOT NULL REFERENCES public.identities (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES public.identities (id),
    declined_at timestamptz,
    CHECK (accepted_at IS NULL OR declined_at IS NULL)
);
CREATE UNIQUE INDEX org_invitation_open_key ON public.org_invitation (org_id, lower(email))
    WHERE accepted_at IS NULL AND declined_at IS NULL;
CREATE INDEX org_invitation_email_idx ON public.org_invitation (lower(email));
CREATE INDEX org_invitation_invited_by_idx ON public.org_invitation (invited_by);
ALTER TABLE public.org_invitation ENABLE ROW LEVEL SECURITY;
-- No policy and no grant: invitations are read and changed only through the functions below.
REVOKE ALL ON public.org_invitation FROM PUBLIC, anon, authenticated;

CREATE FUNCTION app.invitation_json(v public.org_invitation) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT jsonb_build_object('id', v.id, 'org_id', v.org_id,
        'org_name', (SELECT o.name FROM public.org o WHERE o.id = v.org_id),
        'email', v.email, 'role', v.role,
        'status', CASE WHEN v.accepted_at IS NOT NULL THEN 'accepted'
                       WHEN v.declined_at IS NOT NULL THEN 'declined'
                       WHEN v.expires_at <= now() THEN 'expired'
                       ELSE 'pending' END,
        'expires_at', v.expires_at, 'created_at', v.created_at)
$$;

-- POST /organizations/{id}/members (owner or org admin): invite by e-mail. The answer is the same whether or not
-- the e-mail belongs to anyone. Inviting again renews the open invitation (new role, new expiry).
CREATE FUNCTION public.invite_member(p_org_id uuid, p_email text, p_role public.invite_role DEFAULT 'member')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v_caller_role public.org_role := app.org_role(p_org_id);
    v public.org_invitation;
BEGIN
    IF v_caller_role IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'P0002';
    END IF;
    IF v_caller_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only owners and admins can invite members' USING ERRCODE = '42501';
    END IF;
    -- Members see each other's e-mail, so saying that this one is already a member reveals nothing new.
    IF EXISTS (SELECT 1 FROM public.org_member m JOIN public.identities i ON i.id = m.user_id
               WHERE m.org_id = p_org_id AND m.deleted_at IS NULL AND i.deactivated_at IS NULL
                 AND lower(i.email) = lower(p_email)) THEN
        RAISE EXCEPTION 'a member of this organization already has this e-mail' USING ERRCODE = '23505';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('invite'), hashtext(p_org_id::text || lower(p_email)));
    UPDATE public.org_invitation SET role = p_role, invited_by = v_uid,
        expires_at = now() + (SELECT s.invitation_ttl FROM app.settings s)
    WHERE org_id = p_org_id AND lower(email) = lower(p_email) AND accepted_at IS NULL AND declined_at IS NULL
    RETURNING * INTO v;
    IF NOT FOUND THEN
        INSERT INTO public.org_invitation (org_id, email, role, invited_by, expires_at)
        VALUES (p_org_id, p_email, p_role, v_uid, now() + (SELECT s.invitation_ttl FROM app.settings s))
        RETURNING * INTO v;
    END IF;
    RETURN app.invitation_json(v);
END
$$;

-- GET /invitations: the caller's pending invitations (to the e-mail of their active identity).
CREATE FUNCTION public.list_my_invitations() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT coalesce(jsonb_agg(app.invitation_json(v) ORDER BY v.created_at, v.id), '[]')
    FROM public.org_invitation v
    JOIN public.identities i ON i.id = app.require_caller() AND lower(i.email) = lower(v.email)
    JOIN public.org o ON o.id = v.org_id AND o.deleted_at IS NULL
    WHERE v.accepted_at IS NULL AND v.declined_at IS NULL AND v.expires_at > now()
$$;

-- An invitation addressed to the caller, locked; 404 for anyone else's (whose existence is not revealed).
CREATE FUNCTION app.my_invitation(p_id uuid) RETURNS public.org_invitation
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.org_invitation;
BEGIN
    SELECT inv.* INTO v FROM public.org_invitation inv
    JOIN public.identities i ON i.id = app.require_caller() AND lower(i.email) = lower(inv.email)
    JOIN public.org o ON o.id = inv.org_id AND o.deleted_at IS NULL
    WHERE inv.id = p_id FOR UPDATE OF inv;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invitation not found' USING ERRCODE = 'P0002';
    END IF;
    IF v.accepted_at IS NOT NULL OR v.declined_at IS NOT NULL THEN
        RAISE EXCEPTION 'the invitation was already answered' USING ERRCODE = 'P0409';
    END IF;
    IF v.expires_at <= now() THEN
        RAISE EXCEPTION 'the invitation expired; ask for a new one' USING ERRCODE = 'P0409';
    END IF;
    RETURN v;
END
$$;

-- POST /invitations/{id}/accept: join with the invitation's role (never owner).
CREATE FUNCTION public.accept_invitation(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v public.org_invitation := app.my_invitation(p_id);
    m public.org_member;
BEGIN
    UPDATE public.org_invitation SET accepted_at = now(), accepted_by = v_uid WHERE id = v.id;
    SELECT * INTO m FROM public.org_member WHERE org_id = v.org_id AND user_id = v_uid AND deleted_at IS NULL;
    IF FOUND THEN
        RETURN app.membership_json(m);  -- already a member: the invitation is used up, the role unchanged
    END IF;
    INSERT INTO public.org_member (org_id, user_id, role, created_by)
    VALUES (v.org_id, v_uid, v.role::text::public.org_role, v.invited_by)
    RETURNING * INTO m;
    RETURN app.membership_json(m);
END
$$;

-- POST /invitations/{id}/decline.
CREATE FUNCTION public.decline_invitation(p_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.org_invitation := app.my_invitation(p_id);
BEGIN
    UPDATE public.org_invitation SET declined_at = now() WHERE id = v.id;
END
$$;

-- GET /organizations/{id}/members: members of the same organization see each other's names and e-mail; nobody
-- else sees anything (404). Deactivated identities are not listed.
CREATE FUNCTION public.list_org_members(p_org_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_caller();
    IF app.org_role(p_org_id) IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'P0002';
    END IF;
    RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
            'user_id', m.user_id, 'role', m.role, 'email', i.email,
            'first_name', coalesce(p.first_name, i.first_name), 'last_name', coalesce(p.last_name, i.last_name),
            'joined_at', m.created_at) ORDER BY m.created_at, m.id), '[]')
        FROM public.org_member m
        JOIN public.identities i ON i.id = m.user_id AND i.deactivated_at IS NULL
        LEFT JOIN public.profiles p ON p.id = m.user_id AND p.deleted_at IS NULL
        WHERE m.org_id = p_org_id AND m.deleted_at IS NULL);
END
$$;

-- PUT /organizations/{id}/members/{userId} (owners): the only way to become owner is to be promoted; an owner
-- steps down only while another active owner remains.
CREATE FUNCTION public.change_member_role(p_org_id uuid, p_user_id uuid, p_role public.org_role) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_caller_role public.org_role;
    m public.org_member;
BEGIN
    PERFORM app.require_caller();
    PERFORM 1 FROM public.org WHERE id = p_org_id AND deleted_at IS NULL FOR UPDATE;
    v_caller_role := app.org_role(p_org_id);
    IF v_caller_role IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'P0002';
    END IF;
    IF v_caller_role <> 'owner' THEN
        RAISE EXCEPTION 'only owners can change roles' USING ERRCODE = '42501';
    END IF;
    SELECT mm.* INTO m FROM public.org_member mm JOIN public.identities i ON i.id = mm.user_id
    WHERE mm.org_id = p_org_id AND mm.user_id = p_user_id AND mm.deleted_at IS NULL AND i.deactivated_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'member not found (only active members can take a role)' USING ERRCODE = 'P0002';
    END IF;
    IF m.role = 'owner' AND p_role <> 'owner' AND app.active_owner_count(p_org_id) <= 1 THEN
        RAISE EXCEPTION 'the last active owner cannot step down; promote another member first' USING ERRCODE = 'P0409';
    END IF;
    UPDATE public.org_member SET role = p_role WHERE id = m.id RETURNING * INTO m;
    RETURN app.membership_json(m);
END
$$;

-- DELETE /organizations/{id}/members/{userId}: as before, but the last-owner rule counts active owners only.
CREATE OR REPLACE FUNCTION public.remove_org_member(p_org_id uuid, p_user_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_caller_role public.org_role;
    v_target_role public.org_role;
    v_target_active boolean;
BEGIN
    PERFORM app.require_caller();
    -- Serialize membership changes per organization, so two owners cannot remove each other at once.
    PERFORM 1 FROM public.org WHERE id = p_org_id AND deleted_at IS NULL FOR UPDATE;
    v_caller_role := app.org_role(p_org_id);
    IF v_caller_role IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'P0002';
    END IF;
    IF p_user_id IS DISTINCT FROM app.current_user_id() AND v_caller_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only owners and admins can remove other members' USING ERRCODE = '42501';
    END IF;
    SELECT m.role, i.deactivated_at IS NULL INTO v_target_role, v_target_active
    FROM public.org_member m JOIN public.identities i ON i.id = m.user_id
    WHERE m.org_id = p_org_id AND m.user_id = p_user_id AND m.deleted_at IS NULL;
    IF v_target_role IS NULL THEN
        RAISE EXCEPTION 'member not found' USING ERRCODE = 'P0002';
    END IF;
    IF v_target_role = 'owner' AND v_caller_role <> 'owner' THEN
        RAISE EXCEPTION 'only owners can remove owners' USING ERRCODE = '42501';
    END IF;
    IF v_target_role = 'owner' AND v_target_active AND app.active_owner_count(p_org_id) <= 1 THEN
        RAISE EXCEPTION 'cannot remove the last active owner of an organization' USING ERRCODE = 'P0409';
    END IF;
    UPDATE public.org_member SET deleted_at = now()
    WHERE org_id = p_org_id AND user_id = p_user_id AND deleted_at IS NULL;
END
$$;

-- PUT /organizations/{id}/owner (platform admins): when every owner of a live organization is inactive, make an
-- active identity its owner (promoting their membership, or adding one). Refused while an active owner exists.
CREATE FUNCTION public.transfer_ownership(p_org_id uuid, p_user_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_admin uuid := app.require_admin();
    m public.org_member;
BEGIN
    PERFORM 1 FROM public.org WHERE id = p_org_id AND deleted_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'P0002';
    END IF;
    IF app.active_owner_count(p_org_id) > 0 THEN
        RAISE EXCEPTION 'the organization has an active owner, who can promote another member'
            USING ERRCODE = 'P0409';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.identities WHERE id = p_user_id AND deactivated_at IS NULL) THEN
        RAISE EXCEPTION 'no active identity with this id' USING ERRCODE = 'P0002';
    END IF;
    UPDATE public.org_member SET role = 'owner'
    WHERE org_id = p_org_id AND user_id = p_user_id AND deleted_at IS NULL RETURNING * INTO m;
    IF NOT FOUND THEN
        INSERT INTO public.org_member (org_id, user_id, role, created_by)
        VALUES (p_org_id, p_user_id, 'owner', v_admin) RETURNING * INTO m;
    END IF;
    RETURN app.membership_json(m);
END
$$;

-- The seed's "add member" is an invitation now: nobody becomes a member without accepting.
DROP FUNCTION public.add_org_member(uuid, public.org_role, uuid, text);

REVOKE ALL ON FUNCTION app.active_owner_count(uuid), app.membership_json(public.org_member),
    app.invitation_json(public.org_invitation), app.my_invitation(uuid),
    public.invite_member(uuid, text, public.invite_role), public.list_my_invitations(),
    public.accept_invitation(uuid), public.decline_invitation(uuid), public.list_org_members(uuid),
    public.change_member_role(uuid, uuid, public.org_role), public.transfer_ownership(uuid, uuid)
    FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION app.active_owner_count(uuid), app.membership_json(public.org_member),
    app.invitation_json(public.org_invitation), app.my_invitation(uuid),
    public.invite_member(uuid, text, public.invite_role), public.list_my_invitations(),
    public.accept_invitation(uuid), public.decline_invitation(uuid), public.list_org_members(uuid),
    public.change_member_role(uuid, uuid, public.org_role), public.transfer_ownership(uuid, uuid)
    TO authenticated;
