//! Events as API Gateway sends them (built by the `api-events` crate), and the request a handler receives for one.

pub use api_events::*;
use lambda_http::request::LambdaRequest;

/// The request a handler receives for an event (what `lambda_http` makes of it in a Lambda).
pub fn into_request(event: ApiGatewayV2httpRequest) -> lambda_http::Request {
    LambdaRequest::ApiGatewayV2(event).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;

    #[test]
    fn a_handler_sees_what_the_event_says() {
        let mut event = http_request("DELETE", "/organizations/a/members/b", &[("authorization", "Bearer t")], None);
        authorize(&mut event, &serde_json::json!({"sub": "s"}));
        let text = serde_json::to_string(&event).unwrap();
        let parsed = lambda_http::request::from_str(&text).unwrap();
        let direct = into_request(event);
        for req in [parsed, direct] {
            assert_eq!(req.method(), "DELETE");
            assert_eq!(req.uri().path(), "/organizations/a/members/b");
            assert_eq!(req.path_parameters().first("userId"), Some("b"));
            assert_eq!(req.headers()["authorization"], "Bearer t");
        }
    }
}
