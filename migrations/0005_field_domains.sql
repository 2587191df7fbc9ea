-- One rule per field: each text field's rule as a domain, matching the API's validation (route-registry's
-- `validate`) and the OpenAPI pattern; a corpus test holds the three to one verdict.
--
-- Forbidden everywhere: control characters, bidirectional controls and zero-width characters, which would let a
-- name look like another. Names do not start or end with a space; subjects and e-mail have none.

CREATE DOMAIN app.person_name AS text
    CHECK (length(VALUE) BETWEEN 1 AND 100
           AND VALUE ~ '^[^\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]([^\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]*[^\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000])?$');

CREATE DOMAIN app.org_name AS text
    CHECK (length(VALUE) BETWEEN 1 AND 200
           AND VALUE ~ '^[^\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]([^\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]*[^\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000])?$');

CREATE DOMAIN app.description AS text
    CHECK (length(VALUE) <= 2000
           AND VALUE ~ '^[^\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]*$');

CREATE DOMAIN app.subject AS text
    CHECK (length(VALUE) BETWEEN 1 AND 255
           AND VALUE ~ '^[^\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+$');

CREATE DOMAIN app.email AS text
    CHECK (length(VALUE) BETWEEN 3 AND 254
           AND VALUE ~ '^[^@\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+@[^@.\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+(\.[^@.\u0001-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+)+$');

CREATE DOMAIN app.phone AS text
    CHECK (length(VALUE) BETWEEN 5 AND 32 AND VALUE ~ '^\+?[ ()-]*[0-9][0-9 ()-]*$');

GRANT USAGE ON DOMAIN app.person_name, app.org_name, app.description, app.subject, app.email, app.phone
    TO authenticated;

-- The columns follow the same rules. Policies refer to some of these columns, which forbids changing their type,
-- so each column gets a CHECK that casts it to its domain: a value the domain refuses fails the insert or update
-- with the domain's check_violation (23514). Rows that break a rule (written before it existed) would stop this
-- migration with the offending value's domain named, which is the moment to fix them.
ALTER TABLE public.identities
    ADD CONSTRAINT identities_idp_subject_rule CHECK (idp_subject::app.subject IS NOT DISTINCT FROM idp_subject),
    ADD CONSTRAINT identities_email_rule CHECK (email::app.email IS NOT DISTINCT FROM email),
    ADD CONSTRAINT identities_first_name_rule CHECK (first_name::app.person_name IS NOT DISTINCT FROM first_name),
    ADD CONSTRAINT identities_last_name_rule CHECK (last_name::app.person_name IS NOT DISTINCT FROM last_name);
ALTER TABLE public.profiles
    DROP CONSTRAINT IF EXISTS profiles_phone_check,
    ADD CONSTRAINT profiles_first_name_rule CHECK (first_name::app.person_name IS NOT DISTINCT FROM first_name),
    ADD CONSTRAINT profiles_last_name_rule CHECK (last_name::app.person_name IS NOT DISTINCT FROM last_name),
    ADD CONSTRAINT profiles_phone_rule CHECK (phone::app.phone IS NOT DISTINCT FROM phone);
ALTER TABLE public.org
    ADD CONSTRAINT org_name_rule CHECK (name::app.org_name IS NOT DISTINCT FROM name),
    ADD CONSTRAINT org_description_rule CHECK (description::app.description IS NOT DISTINCT FROM description);
