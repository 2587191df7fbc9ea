//! Request parsing into the catalog's validating types (see `route_registry::validate` for the field rules).
//!
//! Parsing a body or a path parameter never panics and never answers 500: every failure is a 400 whose message
//! names the field.

use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::ApiError;

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Parses a JSON body into a typed request; a 400 naming the field on any problem.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_json(body, MAX_BODY_BYTES)
}

/// [`parse_body`] with another size limit (routes that take uploads: `Route::upload`).
pub fn parse_json<T: DeserializeOwned>(body: &[u8], max_bytes: usize) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("A JSON request body is required".into()));
    }
    if body.len() > max_bytes {
        return Err(ApiError::BadRequest(format!("The request body exceeds {max_bytes} bytes")));
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
    use route_registry::validate::{Name, Phone};
    use serde::Deserialize;

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
        assert_eq!(err(r#"{"first_name":" A","last_name":"B"}"#), "first_name: must not start or end with a space");
        assert!(err(r#"{"first_name":"A","last_name":"B","phone":"call me"}"#).starts_with("phone: must be a phone"));
        let unknown = err(r#"{"first_name":"A","last_name":"B","admin":true}"#);
        assert!(unknown.contains("unknown field `admin`"), "{unknown}");
        assert_eq!(err(r#"{"first_name":"A","last_name":"B"} trailing"#), "The request body is not valid JSON");
        assert_eq!(err(&" ".repeat(MAX_BODY_BYTES + 1).replacen(' ', "{", 1)), "The request body exceeds 16384 bytes");
    }

    #[test]
    fn uuids() {
        assert!(uuid_param("id", "6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11").is_ok());
        assert_eq!(uuid_param("id", "42").unwrap_err().to_string(), "id: must be a UUID");
    }
}
