-- The org-module tables: identities, profiles, org, org_member.
--
-- Platform user ids are UUIDs; the identity provider's subject (`idp_subject`, e.g. an Okta login or client id)
-- is text and is mapped to a user id through `identities`. Timestamps are set by the database. Rows are never
-- removed by the API: soft-delete columns mark them.

CREATE TYPE public.org_role AS ENUM ('owner', 'admin', 'member');

CREATE FUNCTION app.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE public.identities (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idp_subject    text NOT NULL CHECK (length(idp_subject) BETWEEN 1 AND 255),
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
    first_name     text CHECK (length(first_name) <= 100),
    last_name      text CHECK (length(last_name) <= 100),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    created_by     uuid REFERENCES public.identities (id),
    deactivated_at timestamptz
);
CREATE UNIQUE INDEX identities_idp_subject_key ON public.identities (idp_subject);
CREATE UNIQUE INDEX identities_email_key ON public.identities (lower(email));
CREATE INDEX identities_created_by_idx ON public.identities (created_by);

CREATE TABLE public.profiles (
    id         uuid PRIMARY KEY REFERENCES public.identities (id),
    -- Names may be unknown at provisioning; `PUT /profiles/me` requires both.
    first_name text CHECK (length(first_name) BETWEEN 1 AND 100),
    last_name  text CHECK (length(last_name) BETWEEN 1 AND 100),
    phone      text CHECK (phone ~ '^\+?[0-9 ()-]{5,32}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES public.identities (id),
    deleted_at timestamptz
);
CREATE INDEX profiles_created_by_idx ON public.profiles (created_by);

CREATE TABLE public.org (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text CHECK (length(description) <= 2000),
    owner_id    uuid NOT NULL REFERENCES public.identities (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    created_by  uuid NOT NULL REFERENCES public.identities (id),
    deleted_at  timestamptz
);
CREATE INDEX org_owner_id_idx ON public.org (owner_id);
CREATE INDEX org_created_by_idx ON public.org (created_by);

CREATE TABLE public.org_member (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id     uuid NOT NULL REFERENCES public.org (id),
    user_id    uuid NOT NULL REFERENCES public.identities (id),
    role       public.org_role NOT NULL DEFAULT 'member',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid NOT NULL REFERENCES public.identities (id),
    deleted_at timestamptz
);
-- One live membership per user and organization; removed memberships stay as history.
CREATE UNIQUE INDEX org_member_live_key ON public.org_member (org_id, user_id) WHERE deleted_at IS NULL;
CREATE INDEX org_member_user_id_idx ON public.org_member (user_id);
CREATE INDEX org_member_created_by_idx ON public.org_member (created_by);

CREATE TRIGGER identities_updated_at BEFORE UPDATE ON public.identities FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE TRIGGER profiles_updated_at BEFORE UPDATE ON public.profiles FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE TRIGGER org_updated_at BEFORE UPDATE ON public.org FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
CREATE TRIGGER org_member_updated_at BEFORE UPDATE ON public.org_member FOR EACH ROW EXECUTE FUNCTION app.set_updated_at();
