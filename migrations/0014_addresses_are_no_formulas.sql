-- An address does not start with a character a spreadsheet reads as the start of a formula (`=`, `+`, `-`): an
-- address is shown back in the API's answers and would be in any CSV export, and `=cmd|'/Ccalc'!A0@example.com`
-- became an invitation. Route-registry's `Shape::Email`, the OpenAPI pattern and this domain are one rule (one corpus
-- test). Rows written under the old rule are not re-checked (NOT VALID); every new or changed address is.

ALTER DOMAIN app.email DROP CONSTRAINT email_check;
ALTER DOMAIN app.email ADD CONSTRAINT email_check
    CHECK (length(VALUE) BETWEEN 3 AND 254
           AND VALUE ~ '^[A-Za-z0-9!#$%&''*/?^_`{|}~][A-Za-z0-9!#$%&''*+/=?^_`{|}~-]*(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$')
    NOT VALID;

NOTIFY pgrst, 'reload schema';
