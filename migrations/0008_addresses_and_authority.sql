-- Invitations and identities that hold against look-alike addresses and stale authority:
--
-- 1. Addresses compare as what they are: e-mail addresses and logins are ASCII (what Okta accepts), compared by
--    one key, `app.address_key`, which folds ASCII case only (never a Unicode letter onto an ASCII one: the Kelvin
--    sign stays itself), for matching invitations and for uniqueness.
-- 2. Authority is checked when it is used: accepting re-checks that the inviter still may invite; an inviter's
--    open invitations are revoked, in the same transaction, when they are removed, demoted or deactivated; owners
--    and admins list and revoke an organization's open invitations; the invitee sees who invited them.
-- 3. Limits on invitations (open ones per organization, sent per inviter per hour), from the settings table.
-- 4. Re-provisioning a deactivated login matches its e-mail and Okta user, or is refused naming the conflict.
-- 5. One rule for admin (`groups` an array of strings, as the authorizer and the API read it); PostgREST's own view
--    of memberships hides deactivated members as the API does; internal helpers are not executable by the API role.
-- 6. Refusals that are the client's carry PostgREST's `PTxxx` codes, so PostgREST itself answers 403/404/409/429.
--
-- If two active identities differ only in ASCII case (which the old index allowed), creating the new unique index
-- fails here, naming the duplicate: resolve it (deactivate one) and migrate again.

-- 1. The address key and rule -----------------------------------------------------------------------------------

-- ASCII case folding only: `lower` under the "C" collation folds A–Z and nothing else.
CREATE FUNCTION app.address_key(p text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
        SELECT lower(p COLLATE "C")
$$;

-- An address is an RFC 5322 dot-atom local part of ASCII characters, `@`, and a domain of ASCII letter-digit-hyphen
-- labels (route-registry's `Shape::Email`, the OpenAPI pattern and this domain: one rule, one corpus test). Rows
-- written under the old rule are not re-checked (NOT VALID); every new or changed address is.
ALTER DOMAIN app.email DROP CONSTRAINT email_check;
ALTER DOMAIN app.email ADD CONSTRAINT email_check
    CHECK (length(VALUE) BETWEEN 3 AND 254
           AND VALUE ~ '^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$')
    NOT VALID;

DROP INDEX public.identities_active_email_key;
CREATE UNIQUE INDEX identities_active_email_key ON public.identities (app.address_key(email))
    WHERE deactivated_at IS NULL;
DROP INDEX public.identities_active_subject_key;
CREATE UNIQUE INDEX identities_active_subject_key ON public.identities (app.address_key(idp_subject))
    WHERE deactivated_at IS NULL;

-- 2. and 3. Invitations: revocation, sending time, limits ---------------------------------------------------------

ALTER TABLE public.org_invitation
    ADD COLUMN sent_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN revoked_at timestamptz,
    ADD COLUMN revoked_by uuid REFERENCES public.identities (id),
    ADD COLUMN revoke_reason text,
    ADD CONSTRAINT org_invitation_one_answer CHECK (num_nonnulls(accepted_at, declined_at, revoked_at) <= 1);
UPDATE public.org_invitation SET sent_at = created_at;
DROP INDEX public.org_invitation_open_key;
CREATE UNIQUE INDEX org_invitation_open_key ON public.org_invitation (org_id, app.address_key(email))
    WHERE accepted_at IS NULL AND declined_at IS NULL AND revoked_at IS NULL;
DROP INDEX public.org_invitation_email_idx;
CREATE INDEX org_invitation_email_idx ON public.org_invitation (app.address_key(email));
CREATE INDEX org_invitation_sent_idx ON public.org_invitation (invited_by, sent_at);

ALTER TABLE app.settings
    ADD COLUMN max_open_invitations_per_org integer NOT NULL DEFAULT 500 CHECK (max_open_invitations_per_org > 0),
    ADD COLUMN max_invitations_per_hour integer NOT NULL DEFAULT 100 CHECK (max_invitations_per_hour > 0);

-- Whether `p_user` may invite to `p_org_id` now: an active identity with a live owner or admin membership of a live
-- organization (the rule `invite_member` applies, checked again when an invitation is used).
CREATE FUNCTION app.may_invite(p_org_id uuid, p_user uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT EXISTS (
        SELECT 1 FROM public.org_member m
        JOIN public.identities i ON i.id = m.user_id AND i.deactivated_at IS NULL
        JOIN public.org o ON o.id = m.org_id AND o.deleted_at IS NULL
        WHERE m.org_id = p_org_id AND m.user_id = p_user AND m.deleted_at IS NULL AND m.role IN ('owner', 'admin'))
$$;

-- Revokes `p_inviter`'s open invitations (to one organization, or to all when `p_org_id` is NULL).
CREATE FUNCTION app.revoke_invitations_of(p_inviter uuid, p_org_id uuid, p_reason text) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
    UPDATE public.org_invitation SET revoked_at = now(), revoke_reason = p_reason
    WHERE invited_by = p_inviter AND (p_org_id IS NULL OR org_id = p_org_id)
      AND accepted_at IS NULL AND declined_at IS NULL AND revoked_at IS NULL
$$;

-- A person as an invitation names them.
CREATE FUNCTION app.person_json(p_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT jsonb_build_object('id', i.id, 'email', i.email,
        'first_name', coalesce(p.first_name, i.first_name), 'last_name', coalesce(p.last_name, i.last_name))
    FROM public.identities i LEFT JOIN public.profiles p ON p.id = i.id AND p.deleted_at IS NULL
    WHERE i.id = p_id
$$;

-- The API's `Invitation`: what the invitee and the organization's owners and admins see, with who sent it.
CREATE OR REPLACE FUNCTION app.invitation_json(v public.org_invitation) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT jsonb_build_object('id', v.id, 'org_id', v.org_id,
        'org_name', (SELECT o.name FROM public.org o WHERE o.id = v.org_id),
        'email', v.email, 'role', v.role,
        'status', CASE WHEN v.accepted_at IS NOT NULL THEN 'accepted'
                       WHEN v.declined_at IS NOT NULL THEN 'declined'
                       WHEN v.revoked_at IS NOT NULL THEN 'revoked'
                       WHEN v.expires_at <= now() THEN 'expired'
                       ELSE 'pending' END,
        'invited_by', app.person_json(v.invited_by),
        'sent_at', v.sent_at, 'expires_at', v.expires_at, 'created_at', v.created_at)
$$;

-- POST /organizations/{id}/members (owner or org admin): invite by e-mail. The answer is the same whether or not
-- the e-mail belongs to anyone. Inviting again renews the open invitation (new role, new sender, new expiry); it
-- counts as sent again. Limits: open invitations per organization (409), invitations sent per hour (429, with the
-- seconds to wait as the hint).
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
    -- The address rule (the API checks it first; a direct caller of PostgREST is refused here).
    PERFORM p_email::app.email;
    -- Members see each other's e-mail, so saying that this one is already a member reveals nothing new.
    IF EXISTS (SELECT 1 FROM public.org_member m JOIN public.identities i ON i.id = m.user_id
               WHERE m.org_id = p_org_id AND m.deleted_at IS NULL AND i.deactivated_at IS NULL
                 AND app.address_key(i.email) = app.address_key(p_email)) THEN
        RAISE EXCEPTION 'a member of this organization already has this e-mail' USING ERRCODE = 'PT409';
    END IF;
    -- One invitation to an organization at a time, and one sender's count at a time.
    PERFORM pg_advisory_xact_lock(hashtext('invite'), hashtext(p_org_id::text));
    PERFORM pg_advisory_xact_lock(hashtext('invite-sender'), hashtext(v_uid::text));
    SELECT count(*), min(sent_at) INTO v_sent, v_oldest
    FROM public.org_invitation WHERE invited_by = v_uid AND sent_at > now() - interval '1 hour';
    IF v_sent >= v_settings.max_invitations_per_hour THEN
        -- The hint is the seconds until the oldest of them leaves the hour (the API's Retry-After).
        RAISE EXCEPTION 'you sent % invitations in the last hour, the most allowed; try again later', v_sent
            USING ERRCODE = 'PT429',
                  HINT = greatest(ceil(extract(epoch FROM (v_oldest + interval '1 hour' - now()))), 1)::text;
    END IF;
    UPDATE public.org_invitation SET role = p_role, invited_by = v_uid, sent_at = now(),
        expires_at = now() + v_settings.invitation_ttl
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

-- GET /invitations: the caller's open invitations (to the e-mail of their active identity), with who sent them.
CREATE OR REPLACE FUNCTION public.list_my_invitations() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT coalesce(jsonb_agg(app.invitation_json(v) ORDER BY v.sent_at, v.id), '[]')
    FROM public.org_invitation v
    JOIN public.identities i ON i.id = app.require_caller() AND app.address_key(i.email) = app.address_key(v.email)
    JOIN public.org o ON o.id = v.org_id AND o.deleted_at IS NULL
    WHERE v.accepted_at IS NULL AND v.declined_at IS NULL AND v.revoked_at IS NULL AND v.expires_at > now()
$$;

-- An invitation addressed to the caller, locked; 404 for anyone else's (whose existence is not revealed).
CREATE OR REPLACE FUNCTION app.my_invitation(p_id uuid) RETURNS public.org_invitation
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.org_invitation;
BEGIN
    SELECT inv.* INTO v FROM public.org_invitation inv
    JOIN public.identities i ON i.id = app.require_caller() AND app.address_key(i.email) = app.address_key(inv.email)
    JOIN public.org o ON o.id = inv.org_id AND o.deleted_at IS NULL
    WHERE inv.id = p_id FOR UPDATE OF inv;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invitation not found' USING ERRCODE = 'PT404';
    END IF;
    IF v.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'the invitation was withdrawn' USING ERRCODE = 'PT409';
    END IF;
    IF v.accepted_at IS NOT NULL OR v.declined_at IS NOT NULL THEN
        RAISE EXCEPTION 'the invitation was already answered' USING ERRCODE = 'PT409';
    END IF;
    IF v.expires_at <= now() THEN
        RAISE EXCEPTION 'the invitation expired; ask for a new one' USING ERRCODE = 'PT409';
    END IF;
    RETURN v;
END
$$;

-- POST /invitations/{id}/accept: join with the invitation's role (never owner), if its sender still may invite to
-- the organization (an invitation does not outlive its sender's authority).
CREATE OR REPLACE FUNCTION public.accept_invitation(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v public.org_invitation := app.my_invitation(p_id);
    m public.org_member;
BEGIN
    -- Membership changes lock the organization, and deactivation updates the sender's identity: both wait for this.
    PERFORM 1 FROM public.org WHERE id = v.org_id FOR UPDATE;
    PERFORM 1 FROM public.identities WHERE id = v.invited_by FOR SHARE;
    IF NOT app.may_invite(v.org_id, v.invited_by) THEN
        UPDATE public.org_invitation SET revoked_at = now(), revoke_reason = 'its sender may no longer invite'
        WHERE id = v.id;
        RAISE EXCEPTION 'the invitation is no longer valid: its sender may no longer invite to this organization'
            USING ERRCODE = 'PT409';
    END IF;
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

-- The caller's role in a live organization where it may manage invitations, or the refusal: 404 for anyone who
-- cannot see the organization, 403 for members who are neither owner nor admin.
CREATE FUNCTION app.require_invitation_manager(p_org_id uuid) RETURNS public.org_role
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_role public.org_role;
BEGIN
    PERFORM app.require_caller();
    v_role := app.org_role(p_org_id);
    IF v_role IS NULL THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'PT404';
    END IF;
    IF v_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only owners and admins can see and withdraw invitations' USING ERRCODE = 'PT403';
    END IF;
    RETURN v_role;
END
$$;

-- GET /organizations/{id}/invitations (owner or org admin): the organization's open invitations, with who sent each,
-- when, and until when.
CREATE FUNCTION public.list_org_invitations(p_org_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_invitation_manager(p_org_id);
    RETURN (SELECT coalesce(jsonb_agg(app.invitation_json(v) ORDER BY v.sent_at, v.id), '[]')
            FROM public.org_invitation v
            WHERE v.org_id = p_org_id AND v.accepted_at IS NULL AND v.declined_at IS NULL AND v.revoked_at IS NULL
              AND v.expires_at > now());
END
$$;

-- DELETE /organizations/{id}/invitations/{invitationId} (owner or org admin): withdraw an open invitation.
CREATE FUNCTION public.revoke_invitation(p_org_id uuid, p_id uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_uid uuid := app.require_caller();
    v public.org_invitation;
BEGIN
    PERFORM app.require_invitation_manager(p_org_id);
    UPDATE public.org_invitation SET revoked_at = now(), revoked_by = v_uid, revoke_reason = 'withdrawn'
    WHERE id = p_id AND org_id = p_org_id AND accepted_at IS NULL AND declined_at IS NULL AND revoked_at IS NULL
    RETURNING * INTO v;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no open invitation with this id in this organization' USING ERRCODE = 'PT404';
    END IF;
    RETURN app.invitation_json(v);
END
$$;

-- An inviter who loses the right to invite (removed, demoted below admin, deactivated) loses their open
-- invitations, in the same transaction as the change. Triggers, so every path that changes a membership or an
-- identity does it.
CREATE FUNCTION app.revoke_on_membership_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
        PERFORM app.revoke_invitations_of(NEW.user_id, NEW.org_id, 'its sender left the organization');
    ELSIF NEW.role NOT IN ('owner', 'admin') AND OLD.role IN ('owner', 'admin') THEN
        PERFORM app.revoke_invitations_of(NEW.user_id, NEW.org_id, 'its sender is no longer an owner or admin');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER org_member_revokes_invitations AFTER UPDATE OF deleted_at, role ON public.org_member
    FOR EACH ROW EXECUTE FUNCTION app.revoke_on_membership_change();

CREATE FUNCTION app.revoke_on_deactivation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF NEW.deactivated_at IS NOT NULL AND OLD.deactivated_at IS NULL THEN
        PERFORM app.revoke_invitations_of(NEW.id, NULL, 'its sender was deactivated');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER identities_revoke_invitations AFTER UPDATE OF deactivated_at ON public.identities
    FOR EACH ROW EXECUTE FUNCTION app.revoke_on_deactivation();

-- 4. Provisioning matches or refuses --------------------------------------------------------------------------------

-- POST /identities and /identities/link (admin), after the Okta step: record the identity. Idempotent by subject.
-- A deactivated identity with this subject comes back only when the request matches its e-mail and Okta user;
-- otherwise 409 names the conflict (bring it back with POST /identities/{id}/reactivate, or provision its e-mail).
DROP FUNCTION public.provision_identity(text, text, text, text, text);
CREATE FUNCTION public.provision_identity(p_idp_subject text, p_email text, p_first_name text DEFAULT NULL,
                                          p_last_name text DEFAULT NULL, p_okta_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_admin uuid := app.require_admin();
    v_conflict text := public.provision_conflict(p_idp_subject, p_email, p_okta_id);
    v public.identities;
BEGIN
    IF v_conflict IS NOT NULL THEN
        RAISE EXCEPTION '%', v_conflict USING ERRCODE = 'PT409';
    END IF;
    SELECT * INTO v FROM public.identities
    WHERE app.address_key(idp_subject) = app.address_key(p_idp_subject) AND deactivated_at IS NULL;
    IF FOUND THEN
        RETURN app.identity_json(v);  -- the same request again: the same identity
    END IF;
    SELECT * INTO v FROM public.identities WHERE app.address_key(idp_subject) = app.address_key(p_idp_subject)
    ORDER BY deactivated_at DESC LIMIT 1 FOR UPDATE;
    IF FOUND THEN
        UPDATE public.identities SET deactivated_at = NULL, okta_id = coalesce(okta_id, p_okta_id),
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
    RAISE EXCEPTION 'an active identity with this subject, e-mail or Okta user already exists' USING ERRCODE = 'PT409';
END
$$;

-- What refuses provisioning `p_idp_subject` with `p_email` (and, once Okta has been asked, `p_okta_id`), before
-- anything changes (admin): an active identity with this e-mail under another subject; an active identity with this
-- subject and another e-mail or Okta user; a deactivated identity with this subject and another e-mail or Okta user.
-- NULL when nothing does.
DROP FUNCTION public.provision_conflict(text, text);
CREATE FUNCTION public.provision_conflict(p_idp_subject text, p_email text, p_okta_id text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.identities;
BEGIN
    PERFORM app.require_admin();
    SELECT * INTO v FROM public.identities
    WHERE deactivated_at IS NULL AND app.address_key(email) = app.address_key(p_email)
      AND app.address_key(idp_subject) <> app.address_key(p_idp_subject)
    LIMIT 1;
    IF FOUND THEN
        RETURN format('identity %s already has the e-mail %s', v.id, v.email);
    END IF;
    SELECT * INTO v FROM public.identities WHERE app.address_key(idp_subject) = app.address_key(p_idp_subject)
    ORDER BY deactivated_at IS NULL DESC, deactivated_at DESC LIMIT 1;
    IF FOUND AND app.address_key(v.email) <> app.address_key(p_email) THEN
        RETURN format('%s identity %s has the login %s with the e-mail %s, not %s; %s',
            CASE WHEN v.deactivated_at IS NULL THEN 'the active' ELSE 'the deactivated' END, v.id, v.idp_subject,
            v.email, p_email,
            CASE WHEN v.deactivated_at IS NULL THEN 'a login has one e-mail'
                 ELSE format('bring it back with POST /identities/%s/reactivate', v.id) END);
    END IF;
    IF FOUND AND p_okta_id IS NOT NULL AND v.okta_id IS NOT NULL AND v.okta_id <> p_okta_id THEN
        RETURN format('identity %s has the login %s with the Okta user %s, not %s', v.id, v.idp_subject, v.okta_id,
            p_okta_id);
    END IF;
    RETURN NULL;
END
$$;

-- Re-checked here and in identity_for_lifecycle by the same key.
CREATE OR REPLACE FUNCTION public.identity_for_lifecycle(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v public.identities;
BEGIN
    PERFORM app.require_admin();
    SELECT * INTO v FROM public.identities WHERE id = p_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identity not found' USING ERRCODE = 'PT404';
    END IF;
    RETURN app.identity_json(v) || jsonb_build_object(
        'deactivation_blocker', CASE WHEN v.deactivated_at IS NULL THEN public.deactivation_blocker(p_id) END,
        'reactivation_conflict', CASE WHEN v.deactivated_at IS NOT NULL THEN (
            SELECT format('identity %s is active with this subject or e-mail', o.id) FROM public.identities o
            WHERE o.deactivated_at IS NULL AND o.id <> v.id
              AND (app.address_key(o.idp_subject) = app.address_key(v.idp_subject)
                   OR app.address_key(o.email) = app.address_key(v.email))
            LIMIT 1) END);
END
$$;

-- For the identities route that needs nothing else of the database before it asks Okta (`/identities/link`): the
-- caller is an active platform admin, or 403, before any dependency is asked.
CREATE FUNCTION public.require_platform_admin() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM app.require_admin();
    RETURN true;
END
$$;

-- 5. One rule for admin; members as the API shows them; helpers kept internal ------------------------------------

-- Platform admin: an active provisioned identity whose token's `groups` is an array of strings naming the admin
-- group. An array holding anything but strings counts as no groups, as in the authorizer and the API.
CREATE OR REPLACE FUNCTION app.is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT coalesce(
        jsonb_typeof(app.jwt_claims() -> 'groups') = 'array'
        AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(app.jwt_claims() -> 'groups') g
                        WHERE jsonb_typeof(g) <> 'string')
        AND (app.jwt_claims() -> 'groups') ? (SELECT s.admin_group FROM app.settings s)
        AND app.current_user_id() IS NOT NULL,
        false)
$$;

-- Whether an identity is active (for policies, which cannot read other identities themselves).
CREATE FUNCTION app.is_active_identity(p_id uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT EXISTS (SELECT 1 FROM public.identities WHERE id = p_id AND deactivated_at IS NULL)
$$;
GRANT EXECUTE ON FUNCTION app.is_active_identity(uuid) TO authenticated;

-- PostgREST's own view of memberships hides deactivated members, as `GET /organizations/{id}/members` does.
DROP POLICY org_member_select ON public.org_member;
CREATE POLICY org_member_select ON public.org_member FOR SELECT TO authenticated
    USING (deleted_at IS NULL AND org_id = ANY (app.my_org_ids()) AND app.is_active_identity(user_id));

-- The `app` helpers the API role calls itself are the ones its policies and the pre-request check evaluate as the
-- caller; every other helper runs only inside the API functions (as their owner), so the role gets no EXECUTE.
REVOKE EXECUTE ON FUNCTION app.require_caller(), app.require_admin(), app.identity_json(public.identities),
    app.membership_json(public.org_member), app.invitation_json(public.org_invitation), app.my_invitation(uuid),
    app.active_owner_count(uuid), app.can_access_org_data(uuid), app.may_invite(uuid, uuid),
    app.revoke_invitations_of(uuid, uuid, text), app.person_json(uuid), app.require_invitation_manager(uuid),
    app.address_key(text)
    FROM PUBLIC, anon, authenticated;

REVOKE ALL ON FUNCTION public.provision_identity(text, text, text, text, text),
    public.provision_conflict(text, text, text), public.list_org_invitations(uuid), public.revoke_invitation(uuid, uuid),
    public.require_platform_admin()
    FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.provision_identity(text, text, text, text, text),
    public.provision_conflict(text, text, text), public.list_org_invitations(uuid), public.revoke_invitation(uuid, uuid),
    public.require_platform_admin()
    TO authenticated;

-- 6. Refusals carry PostgREST's status codes --------------------------------------------------------------------

-- PostgREST answers an error whose SQLSTATE is `PTxyz` with HTTP status xyz. Every API function written before
-- this migration raised the platform's own codes (P0002 not found, P0409 conflict, 42501 refused, 23505 for a
-- conflict it names), which PostgREST answers with 500, 401/403 or 409 by its own rules and the API passed on only
-- by code; they are rewritten to PT404, PT409 and PT403 here, so a client of PostgREST itself gets the status the
-- API gives. Functions written from now on raise PTxxx directly (a database test holds every function to it).
DO $$
DECLARE
    f record;
    def text;
BEGIN
    FOR f IN
        SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('public', 'app') AND p.prokind = 'f'
          AND p.prosrc ~ 'ERRCODE = ''(P0002|P0409|42501|23505)'''
    LOOP
        def := pg_get_functiondef(f.oid);
        def := replace(def, 'ERRCODE = ''P0002''', 'ERRCODE = ''PT404''');
        def := replace(def, 'ERRCODE = ''P0409''', 'ERRCODE = ''PT409''');
        def := replace(def, 'ERRCODE = ''42501''', 'ERRCODE = ''PT403''');
        def := replace(def, 'ERRCODE = ''23505''', 'ERRCODE = ''PT409''');
        EXECUTE def;
    END LOOP;
END
$$;
