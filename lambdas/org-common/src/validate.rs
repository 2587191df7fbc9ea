//! Request validation, declared once, in types: bounded string newtypes (names, e-mail, phone …) that check
//! themselves while deserializing and describe the same limits to schemars for the OpenAPI document.
//!
//! Parsing a body or a path parameter never panics and never answers 500: every failure is a 400 whose message
//! names the field.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::ApiError;

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

macro_rules! bounded_string {
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr, check = $check:expr, pattern = $pattern:expr, what = $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Validates a value the way deserialization does.
            pub fn parse(value: &str) -> Result<Self, String> {
                let value = value.trim();
                let len = value.chars().count();
                if !($min..=$max).contains(&len) {
                    return Err(if $min == 0 {
                        format!("must be at most {} characters", $max)
                    } else {
                        format!("must be {} to {} characters", $min, $max)
                    });
                }
                if value.chars().any(char::is_control) {
                    return Err("must not contain control characters".into());
                }
                let check: fn(&str) -> bool = $check;
                if !check(value) {
                    return Err(concat!("must be ", $what).into());
                }
                Ok($name(value.to_owned()))
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
                let mut schema = json_schema!({
                    "type": "string",
                    "minLength": $min,
                    "maxLength": $max,
                    "description": concat!("Must be ", $what, ".")
                });
                let pattern: Option<&str> = $pattern;
                if let Some(p) = pattern {
                    schema.insert("pattern".into(), p.into());
                }
                schema
            }
        }
    };
}

bounded_string!(
    /// A person's first or last name.
    Name, min = 1, max = 100, check = |_| true, pattern = None, what = "a name of 1 to 100 characters"
);
bounded_string!(
    /// An organization's name.
    OrgName, min = 1, max = 200, check = |_| true, pattern = None, what = "a name of 1 to 200 characters"
);
bounded_string!(
    /// Free text describing an organization.
    Description, min = 0, max = 2000, check = |_| true, pattern = None, what = "text of at most 2000 characters"
);
bounded_string!(
    /// The identity provider's subject (an Okta login or user id): text, not a UUID.
    Subject, min = 1, max = 255, check = |s| !s.contains(char::is_whitespace), pattern = Some(r"^\S+$"),
    what = "an identity-provider subject without spaces"
);
bounded_string!(
    /// An e-mail address (syntax only: one `@`, a dotted domain, no spaces).
    Email, min = 3, max = 254, check = is_email, pattern = Some(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    what = "an e-mail address"
);
bounded_string!(
    /// A phone number: digits, spaces, `()-`, optionally a leading `+`.
    Phone, min = 5, max = 32, check = is_phone, pattern = Some(r"^\+?[0-9 ()-]{5,32}$"),
    what = "a phone number (digits, spaces, parentheses, dashes, optional leading +)"
);

fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && !s.contains(char::is_whitespace)
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        }
        _ => false,
    }
}

fn is_phone(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    digits.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-'))
        && digits.chars().any(|c| c.is_ascii_digit())
}

/// Parses a JSON body into a typed request; a 400 naming the field on any problem.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("A JSON request body is required".into()));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::BadRequest(format!("The request body exceeds {MAX_BODY_BYTES} bytes")));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest("The request body is not valid JSON".into());
        }
        let message = strip_position(&inner.to_string());
        if path == "." || path.is_empty() {
            ApiError::BadRequest(message)
        } else {
            ApiError::BadRequest(format!("{path}: {message}"))
        }
    })?;
    de.end().map_err(|_| ApiError::BadRequest("The request body is not valid JSON".into()))?;
    Ok(value)
}

/// serde_json appends " at line 1 column 17"; clients need the field, not the column.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Parses a path parameter as a UUID; a 400 naming the parameter otherwise.
pub fn uuid_param(name: &str, value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value).map_err(|_| ApiError::BadRequest(format!("{name}: must be a UUID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "fields are read through Debug in assertions")]
    struct Profile {
        first_name: Name,
        last_name: Name,
        phone: Option<Phone>,
    }

    fn err(body: &str) -> String {
        match parse_body::<Profile>(body.as_bytes()) {
            Ok(p) => panic!("accepted {body}: {p:?}"),
            Err(e) => {
                assert_eq!(e.status(), 400);
                e.to_string()
            }
        }
    }

    #[test]
    fn bad_bodies_are_400_naming_the_field() {
        assert_eq!(err(""), "A JSON request body is required");
        assert_eq!(err("{"), "The request body is not valid JSON");
        assert_eq!(err("not json"), "The request body is not valid JSON");
        assert_eq!(err(r#"{"first_name":"A"}"#), "missing field `last_name`");
        assert_eq!(
            err(r#"{"first_name":5,"last_name":"B"}"#),
            "first_name: invalid type: integer `5`, expected a string"
        );
        assert_eq!(err(r#"{"first_name":"","last_name":"B"}"#), "first_name: must be 1 to 100 characters");
        assert_eq!(
            err(&format!(r#"{{"first_name":"{}","last_name":"B"}}"#, "x".repeat(101))),
            "first_name: must be 1 to 100 characters"
        );
        assert_eq!(
            err(r#"{"first_name":"A","last_name":"B","phone":"call me"}"#),
            "phone: must be a phone number (digits, spaces, parentheses, dashes, optional leading +)"
        );
        let unknown = err(r#"{"first_name":"A","last_name":"B","admin":true}"#);
        assert!(unknown.contains("unknown field `admin`"), "{unknown}");
        assert_eq!(err(r#"{"first_name":"A","last_name":"B"} trailing"#), "The request body is not valid JSON");
        assert_eq!(err(&" ".repeat(MAX_BODY_BYTES + 1).replacen(' ', "{", 1)), "The request body exceeds 16384 bytes");
    }

    #[test]
    fn good_body_is_trimmed() {
        let p: Profile =
            parse_body(br#"{"first_name":" Ada ","last_name":"Lovelace","phone":"+44 (0)20 7946-0000"}"#).unwrap();
        assert_eq!(p.first_name.as_str(), "Ada");
    }

    #[test]
    fn emails_and_uuids() {
        assert!(Email::parse("a@b.co").is_ok());
        for bad in ["a@b", "@b.co", "a b@c.co", "a@@b.co", "a@b..co"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(uuid_param("id", "6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11").is_ok());
        assert_eq!(uuid_param("id", "42").unwrap_err().to_string(), "id: must be a UUID");
    }
}
