//! The authorizer Lambda: builds the verifier once per container, then answers authorizer events.

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    platform_authorizer::logging::init();
    platform_authorizer::crypto::install()?;
    let config = platform_authorizer::Config::from_env()?;
    let authorizer = platform_authorizer::Authorizer::new(config)?;
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
        Ok::<_, std::convert::Infallible>(authorizer.handle(&event.payload).await)
    }))
    .await
}
