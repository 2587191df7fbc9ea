//! The API's field rules, declared once, in types: bounded string newtypes (names, e-mail, phone …) that check
//! themselves while deserializing and describe the same rule to schemars (length and pattern) for the OpenAPI
//! document. The SQL domains of `migrations/` state the same rules for the database; one test runs a shared corpus
//! through all three (Rust, the OpenAPI pattern, PostgreSQL) and requires the same verdict.
//!
//! Values are never trimmed or rewritten: a value is accepted as sent or refused with a message naming the rule.
//! Text fields refuse control characters, bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F,
//! U+061C) and zero-width characters (U+200B–U+200D, U+2060, U+FEFF), which would let a name look like another.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};

/// Characters no text field accepts (see the module documentation); written as a regex class body.
const FORBIDDEN: &str = r"\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff";
/// Space characters, which may not start or end a name (a class body).
const SPACES: &str = r"\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000";

/// True for a character no text field accepts.
pub fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{61c}' | '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// True for a space character (the `SPACES` class).
pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// RFC 5322's `atext` symbols, which an address's local part may hold besides ASCII letters and digits (the hyphen
/// last, so the text also reads as a regex class body).
const ATEXT_SYMBOLS: &str = "!#$%&'*+/=?^_`{|}~-";

/// What an address may start with: RFC 5322's `atext` but the characters a spreadsheet reads as the start of a
/// formula (`=`, `+`, `-`; `@` cannot start a local part anyway), so an address cannot become a formula in a CSV
/// file anyone opens (`=cmd|'/Ccalc'!A0@example.com`).
const FIRST_ATEXT_SYMBOLS: &str = "!#$%&'*/?^_`{|}~";

/// The one normalization of addresses (e-mail and logins), as Okta compares logins: ASCII case folded, nothing else.
/// A character that Unicode folds onto an ASCII letter (the Kelvin sign onto `k`) stays itself, so it can never make
/// two different addresses one. PostgreSQL's `app.address_key` is the same rule (`lower` under the "C" collation); the
/// corpus test holds the two to one answer.
pub fn address_key(address: &str) -> String {
    address.to_ascii_lowercase()
}

/// The kinds of text a field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A name: no forbidden characters, not starting or ending with a space.
    Name,
    /// Free text: no forbidden characters.
    Text,
    /// An identity-provider subject: no forbidden characters, no spaces.
    Subject,
    /// An e-mail address as Okta takes one for a login or an e-mail, in ASCII: an RFC 5322 dot-atom local part, `@`,
    /// a domain of at least two letter-digit-hyphen labels. Compared by [`address_key`].
    Email,
    /// A phone number: digits, spaces, `()-`, optionally a leading `+`, at least one digit.
    Phone,
}

impl Shape {
    /// What a value must be, for messages and schema descriptions.
    pub const fn what(self) -> &'static str {
        match self {
            Shape::Name => "a name without control characters, not starting or ending with a space",
            Shape::Text => "text without control characters",
            Shape::Subject => "an identity-provider subject without spaces",
            Shape::Email => {
                "an e-mail address in ASCII letters, digits and RFC 5322's symbols, not starting with = + or - (compared \
                 ignoring ASCII case)"
            }
            Shape::Phone => "a phone number (digits, spaces, parentheses, dashes, optional leading +)",
        }
    }

    /// The same rule as a regular expression (ECMA-262, as JSON Schema uses; the text also works in Rust's `regex`
    /// and in PostgreSQL).
    pub fn pattern(self) -> String {
        let (f, s) = (FORBIDDEN, SPACES);
        match self {
            Shape::Name => format!("^[^{f}{s}]([^{f}]*[^{f}{s}])?$"),
            Shape::Text => format!("^[^{f}]*$"),
            Shape::Subject => format!("^[^{f}{s}]+$"),
            Shape::Email => {
                let first = format!("[A-Za-z0-9{FIRST_ATEXT_SYMBOLS}][A-Za-z0-9{ATEXT_SYMBOLS}]*");
                let atom = format!("[A-Za-z0-9{ATEXT_SYMBOLS}]+");
                let label = "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?";
                format!("^{first}(\\.{atom})*@{label}(\\.{label})+$")
            }
            Shape::Phone => r"^\+?[ ()-]*[0-9][0-9 ()-]*$".to_owned(),
        }
    }

    fn check(self, value: &str) -> Result<(), &'static str> {
        let forbidden = "must not contain control, bidirectional-control or zero-width characters";
        if self != Shape::Phone && value.chars().any(is_forbidden) {
            return Err(forbidden);
        }
        match self {
            Shape::Text => Ok(()),
            Shape::Name if value.starts_with(is_space) || value.ends_with(is_space) => {
                Err("must not start or end with a space")
            }
            Shape::Name => Ok(()),
            Shape::Subject | Shape::Email if value.chars().any(is_space) => Err("must not contain spaces"),
            Shape::Subject => Ok(()),
            Shape::Email => {
                if !value.is_ascii() {
                    return Err(
                        "must be an e-mail address in ASCII: a letter that only looks like an ASCII one is not one",
                    );
                }
                let bad = "must be an e-mail address: a local part of letters, digits and . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -, one @, a domain of at least two dot-separated labels of letters, digits and inner hyphens";
                let (local, domain) = value.split_once('@').ok_or(bad)?;
                let atom_ok = |a: &str| {
                    !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || ATEXT_SYMBOLS.contains(c))
                };
                let label_ok = |l: &str| {
                    !l.is_empty()
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                };
                let labels: Vec<&str> = domain.split('.').collect();
                if !local.split('.').all(atom_ok) || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
                    return Err(bad);
                }
                if local.starts_with(['=', '+', '-']) {
                    return Err("must not start with = + or -, which a spreadsheet reads as a formula");
                }
                Ok(())
            }
            Shape::Phone => {
                let digits = value.strip_prefix('+').unwrap_or(value);
                let ok = digits.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-'))
                    && digits.chars().any(|c| c.is_ascii_digit());
                if ok {
                    Ok(())
                } else {
                    Err("must be a phone number: digits, spaces, parentheses and dashes, optionally a leading +")
                }
            }
        }
    }
}

/// The rule of one field: its length in characters (code points, as JSON Schema and PostgreSQL count) and its
/// shape.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub min: usize,
    pub max: usize,
    pub shape: Shape,
}

impl Rule {
    /// Checks a value; the message names the broken part of the rule.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let len = value.chars().count();
        if !(self.min..=self.max).contains(&len) {
            return Err(if self.min == 0 {
                format!("must be at most {} characters", self.max)
            } else {
                format!("must be {} to {} characters", self.min, self.max)
            });
        }
        self.shape.check(value).map_err(str::to_owned)
    }
}

/// A person's first or last name.
pub const NAME: Rule = Rule { min: 1, max: 100, shape: Shape::Name };
/// An organization's name.
pub const ORG_NAME: Rule = Rule { min: 1, max: 200, shape: Shape::Name };
/// Free text describing an organization.
pub const DESCRIPTION: Rule = Rule { min: 0, max: 2000, shape: Shape::Text };
/// An identity provider's subject (an Okta login): text, not a UUID.
pub const SUBJECT: Rule = Rule { min: 1, max: 255, shape: Shape::Subject };
/// An e-mail address (syntax only).
pub const EMAIL: Rule = Rule { min: 3, max: 254, shape: Shape::Email };
/// A phone number.
pub const PHONE: Rule = Rule { min: 5, max: 32, shape: Shape::Phone };
/// A first or last name bound for Okta, whose profile takes 1 to 50 characters.
pub const OKTA_NAME: Rule = Rule { min: 1, max: 50, shape: Shape::Name };
/// An e-mail address bound for Okta's profile (5 to 100 characters there).
pub const OKTA_EMAIL: Rule = Rule { min: 5, max: 100, shape: Shape::Email };
/// An Okta login (5 to 100 characters there, in the form of an e-mail address, Okta's default), the `sub` of the
/// user's tokens.
pub const OKTA_LOGIN: Rule = Rule { min: 5, max: 100, shape: Shape::Email };

macro_rules! bounded_string {
    ($(#[$doc:meta])* $name:ident, $rule:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const RULE: Rule = $rule;

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Validates a value the way deserialization does.
            pub fn parse(value: &str) -> Result<Self, String> {
                Self::RULE.check(value).map(|()| $name(value.to_owned()))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let rule = Self::RULE;
                json_schema!({
                    "type": "string",
                    "minLength": rule.min,
                    "maxLength": rule.max,
                    "pattern": rule.shape.pattern(),
                    "description": format!("Must be {}, {} to {} characters.", rule.shape.what(), rule.min, rule.max),
                })
            }
        }
    };
}

bounded_string!(
    /// A person's first or last name.
    Name, NAME
);
bounded_string!(
    /// An organization's name.
    OrgName, ORG_NAME
);
bounded_string!(
    /// Free text describing an organization.
    Description, DESCRIPTION
);
bounded_string!(
    /// The identity provider's subject (an Okta login): text, not a UUID.
    Subject, SUBJECT
);
bounded_string!(
    /// An e-mail address (syntax only: one `@`, a domain of non-empty dot-separated labels, no spaces).
    Email, EMAIL
);
bounded_string!(
    /// A phone number: digits, spaces, `()-`, optionally a leading `+`, at least one digit.
    Phone, PHONE
);
bounded_string!(
    /// A first or last name for an Okta profile.
    OktaName, OKTA_NAME
);
bounded_string!(
    /// An e-mail address for an Okta profile.
    OktaEmail, OKTA_EMAIL
);
bounded_string!(
    /// An Okta login.
    OktaLogin, OKTA_LOGIN
);

/// Rules of fields that go to Okta, each with the SQL domain of the column that records the value: Okta's rule is
/// the narrower, so the corpus test requires that whatever it accepts, the column accepts too.
pub const OKTA_FIELDS: &[(&str, Rule, &str)] = &[
    ("profile.firstName, profile.lastName", OKTA_NAME, "app.person_name"),
    ("profile.email", OKTA_EMAIL, "app.email"),
    ("profile.login", OKTA_LOGIN, "app.subject"),
];

/// Every rule by the name of its SQL domain in `migrations/` (for the corpus test).
pub const DOMAINS: &[(&str, Rule)] = &[
    ("app.person_name", NAME),
    ("app.org_name", ORG_NAME),
    ("app.description", DESCRIPTION),
    ("app.subject", SUBJECT),
    ("app.email", EMAIL),
    ("app.phone", PHONE),
];

/// Values on both sides of every rule, for the test that holds the Rust check, the OpenAPI pattern and the SQL
/// domain to one verdict. Each value is tried against every rule.
pub const CORPUS: &[&str] = &[
    "Ada",
    "A",
    "Zoë Ångström-O'Neil",
    "李小龍",
    " Ada",
    "Ada ",
    "Ada\u{a0}",
    "Ada Lovelace",
    "",
    " ",
    "a\tb",
    "a\nb",
    "a\u{7f}b",
    "a\u{85}b",
    "evil\u{202e}gnp.exe",
    "ad\u{200b}min",
    "\u{feff}bom",
    "a\u{2066}b",
    "a\u{61c}b",
    "a\u{2028}b",
    "a@b.co",
    "a@b",
    "@b.co",
    "a b@c.co",
    "a@@b.co",
    "a@b..co",
    "a@.b.co",
    "a@b.co.",
    "x@y.z",
    "ab",
    "00u1a2b3c4d5E6F7g8",
    "alice@example.com",
    "+1234",
    "1234",
    "+44 (0)20 7946-0000",
    "(((( ))))",
    "+ 12345",
    "++12345",
    "12345678901234567890123456789012",
    "123456789012345678901234567890123",
    "call me",
    "Ümlaut GmbH & Co. KG",
    "a\u{3000}",
    // Addresses that look alike: each folds (or normalizes) onto an ASCII address under Unicode rules.
    "\u{212a}elvin@example.com",
    "kelvin@example.com",
    "KELVIN@EXAMPLE.COM",
    "po\u{17f}t@example.com",
    "post@example.com",
    "\u{ff41}lice@example.com",
    "alice@EXAMPLE.com",
    "o\u{fb03}ce@example.com",
    "office@example.com",
    "e\u{301}ve@example.com",
    "\u{e9}ve@example.com",
    "\u{131}nfo@example.com",
    "\u{130}nfo@example.com",
    "info@example.com",
    "\u{212b}se@example.com",
    "\u{430}lice@example.com",
    "\u{39a}elvin@example.com",
    "alice@ex\u{e4}mple.com",
    "alice@xn--exmple-cua.com",
    "o'brien+tag@example.co.uk",
    "a.b.c@d-e.example",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a\"b@example.com",
    "a(b)@example.com",
    // Formulas a spreadsheet would run, were the address exported as CSV.
    "=cmd|'/Ccalc'!A0@example.com",
    "+tag@example.com",
    "-x@example.com",
    "a=b@example.com",
    "a+b@example.com",
];

/// Pairs of corpus values that must have different keys although Unicode folds them together (the corpus test
/// also checks every pair of values against PostgreSQL's key).
pub const LOOK_ALIKES: &[(&str, &str)] = &[
    ("\u{212a}elvin@example.com", "kelvin@example.com"),
    ("po\u{17f}t@example.com", "post@example.com"),
    ("\u{ff41}lice@example.com", "alice@example.com"),
    ("o\u{fb03}ce@example.com", "office@example.com"),
    ("\u{131}nfo@example.com", "info@example.com"),
    ("\u{130}nfo@example.com", "info@example.com"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_rule() {
        assert_eq!(Name::parse("").unwrap_err(), "must be 1 to 100 characters");
        assert_eq!(Name::parse(&"x".repeat(101)).unwrap_err(), "must be 1 to 100 characters");
        assert_eq!(Name::parse(" Ada").unwrap_err(), "must not start or end with a space");
        assert!(Name::parse("evil\u{202e}gnp").unwrap_err().contains("bidirectional"));
        assert!(OrgName::parse("ad\u{200b}min").unwrap_err().contains("zero-width"));
        assert!(Phone::parse("+1234").is_ok(), "the database accepts it too");
        assert!(Phone::parse("(((( ))))").is_err());
        assert_eq!(Description::parse(&"x".repeat(2001)).unwrap_err(), "must be at most 2000 characters");
        for bad in ["a@b", "@b.co", "a b@c.co", "a@@b.co", "a@b..co", "a@.b.co", "a@b.co.", "a..b@c.co", "a@-b.co"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse("a@b.co").is_ok());
        assert!(Email::parse("o'brien+tag@example.co.uk").is_ok());
        assert!(Email::parse("\u{212a}elvin@example.com").unwrap_err().contains("looks like"));
    }

    #[test]
    fn the_address_key_folds_ascii_case_and_nothing_else() {
        assert_eq!(address_key("Alice@Example.COM"), "alice@example.com");
        for (a, b) in LOOK_ALIKES {
            assert_ne!(address_key(a), address_key(b), "{a} and {b} must stay apart");
            assert!(Email::parse(a).is_err(), "{a} is not an address the platform takes");
        }
    }

    #[test]
    fn the_patterns_hold_only_escapes_every_engine_reads() {
        for (_, rule) in DOMAINS {
            let p = rule.shape.pattern();
            assert!(!p.contains("\\s") && !p.contains("\\d") && !p.contains("\\x"), "{p}");
        }
    }
}
