-- The database functions the API calls (PostgREST RPC). Each runs inside its request's transaction.
--
-- Errors carry SQLSTATEs the handlers map to HTTP statuses: P0002 → 404 (not found), 42501 → 403 (not allowed),
-- 23505 → 409 (duplicate), P0409 → 409 (a rule conflict such as removing the last owner).
-- SECURITY DEFINER functions check the caller explicitly and pin search_path; the others run as the caller,
-- under Row-Level Security.

-- POST /identities (admin): an identity and its (possibly empty) profile.
CREATE FUNCTION public.provision_identity(p_idp_subject text, p_email text, p_first_name text DEFAULT NULL,
                                          p_last_name text DEFAULT NULL)
RETURNS public.identities
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v public.identities;
BEGIN
    IF NOT app.is_admin() THEN
        RAISE EXCEPTION 'only admins can provision users' USING ERRCODE = '42501';
    END IF;
    INSERT INTO public.identities (idp_subject, email, first_name, last_name, created_by)
    VALUES (p_idp_subject, p_email, p_first_name, p_last_name, app.current_user_id())
    RETURNING * INTO v;
    INSERT INTO public.profiles (id, first_name, last_name, created_by)
    VALUES (v.id, p_first_name, p_last_name, app.current_user_id());
    RETURN v;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'an identity with this subject or e-mail already exists' USING ERRCODE = '23505';
END
$$;

-- DELETE /identities/{id} (admin): deactivate; the identity and its profile stay, marked.
CREATE FUNCTION public.deactivate_identity(p_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NOT app.is_admin() THEN
        RAISE EXCEPTION 'only admins can deactivate users' USING ERRCODE = '42501';
    END IF;
    UPDATE public.identities SET deactivated_at = now() WHERE id = p_id AND deactivated_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identity not found' USING ERRCODE = 'P0002';
    END IF;
    UPDATE public.profiles SET deleted_at = coalesce(deleted_at, now()) WHERE id = p_id;
END
$$;

-- GET /profiles/me.
CREATE FUNCTION public.get_my_profile() RETURNS SETOF public.profiles
LANGUAGE sql STABLE AS $$
    SELECT * FROM public.profiles WHERE id = app.current_user_id() AND deleted_at IS NULL
$$;

-- PUT /profiles/me.
CREATE FUNCTION public.update_my_profile(p_first_name text, p_last_name text, p_phone text DEFAULT NULL)
RETURNS SETOF public.profiles
LANGUAGE sql VOLATILE AS $$
    UPDATE public.profiles SET first_name = p_first_name, last_name = p_last_name, phone = p_phone
    WHERE id = app.current_user_id() AND deleted_at IS NULL
    RETURNING *
$$;

-- DELETE /profiles/me: soft delete (definer: the deleted row is no longer visible to its owner).
CREATE FUNCTION public.delete_my_profile() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    UPDATE public.profiles SET deleted_at = now()
    WHERE id = app.current_user_id() AND deleted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'profile not found' USING ERRCODE = 'P0002';
    END IF;
END
$$;

-- POST /organizations: the organization and the caller's owner membership, atomically.
CREATE FUNCTION public.create_org_with_member(p_name text, p_description text DEFAULT NULL)
RETURNS public.org
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.current_user_id();
    v public.org;
BEGIN
    IF v_uid IS NULL THEN
        RAISE EXCEPTION 'the caller has no active identity' USING ERRCODE = '42501';
    END IF;
    INSERT INTO public.org (name, description, owner_id, created_by)
    VALUES (p_name, p_description, v_uid, v_uid)
    RETURNING * INTO v;
    INSERT INTO public.org_member (org_id, user_id, role, created_by)
    VALUES (v.id, v_uid, 'owner', v_uid);
    RETURN v;
END
$$;

-- POST /organizations/{id}/members (owner or org admin): by user id or by e-mail.
CREATE FUNCTION public.add_org_member(p_org_id uuid, p_role public.org_role, p_user_id uuid DEFAULT NULL,
                                      p_email text DEFAULT NULL)
RETURNS public.org_member
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_caller_role public.org_role := app.org_role(p_org_id);
    v_target uuid;
    v public.org_member;
BEGIN
    IF v_caller_role IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'P0002';
    END IF;
    IF v_caller_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only owners and admins can add members' USING ERRCODE = '42501';
    END IF;
    IF p_role = 'owner' AND v_caller_role <> 'owner' THEN
        RAISE EXCEPTION 'only owners can add owners' USING ERRCODE = '42501';
    END IF;
    IF (p_user_id IS NULL) = (p_email IS NULL) THEN
        RAISE EXCEPTION 'give exactly one of user_id and email' USING ERRCODE = '22023';
    END IF;
    SELECT i.id INTO v_target FROM public.identities i
    WHERE i.deactivated_at IS NULL AND (i.id = p_user_id OR lower(i.email) = lower(p_email));
    IF v_target IS NULL THEN
        RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO public.org_member (org_id, user_id, role, created_by)
    VALUES (p_org_id, v_target, p_role, app.current_user_id())
    RETURNING * INTO v;
    RETURN v;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'the user is already a member of this organization' USING ERRCODE = '23505';
END
$$;

-- DELETE /organizations/{id}/members/{userId} (owner or org admin, or the member themself).
CREATE FUNCTION public.remove_org_member(p_org_id uuid, p_user_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_caller_role public.org_role;
    v_target_role public.org_role;
BEGIN
    -- Serialize membership changes per organization, so two owners cannot remove each other at once.
    PERFORM 1 FROM public.org WHERE id = p_org_id AND deleted_at IS NULL FOR UPDATE;
    v_caller_role := app.org_role(p_org_id);
    IF v_caller_role IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'P0002';
    END IF;
    IF p_user_id IS DISTINCT FROM app.current_user_id() AND v_caller_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only owners and admins can remove other members' USING ERRCODE = '42501';
    END IF;
    SELECT m.role INTO v_target_role FROM public.org_member m
    WHERE m.org_id = p_org_id AND m.user_id = p_user_id AND m.deleted_at IS NULL;
    IF v_target_role IS NULL THEN
        RAISE EXCEPTION 'member not found' USING ERRCODE = 'P0002';
    END IF;
    IF v_target_role = 'owner' AND v_caller_role <> 'owner' THEN
        RAISE EXCEPTION 'only owners can remove owners' USING ERRCODE = '42501';
    END IF;
    IF v_target_role = 'owner' AND (SELECT count(*) FROM public.org_member m
                                    WHERE m.org_id = p_org_id AND m.role = 'owner' AND m.deleted_at IS NULL) = 1 THEN
        RAISE EXCEPTION 'cannot remove the last owner of an organization' USING ERRCODE = 'P0409';
    END IF;
    UPDATE public.org_member SET deleted_at = now()
    WHERE org_id = p_org_id AND user_id = p_user_id AND deleted_at IS NULL;
END
$$;

REVOKE ALL ON FUNCTION public.provision_identity(text, text, text, text), public.deactivate_identity(uuid),
    public.get_my_profile(), public.update_my_profile(text, text, text), public.delete_my_profile(),
    public.create_org_with_member(text, text), public.add_org_member(uuid, public.org_role, uuid, text),
    public.remove_org_member(uuid, uuid) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.provision_identity(text, text, text, text), public.deactivate_identity(uuid),
    public.get_my_profile(), public.update_my_profile(text, text, text), public.delete_my_profile(),
    public.create_org_with_member(text, text), public.add_org_member(uuid, public.org_role, uuid, text),
    public.remove_org_member(uuid, uuid) TO authenticated;
