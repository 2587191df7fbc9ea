//! The authorizer Lambda: builds the verifier once per container, then answers authorizer events.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    platform_authorizer::logging::init();
    let config = platform_authorizer::Config::from_env()?;
    let authorizer: &'static platform_authorizer::Authorizer =
        Box::leak(Box::new(platform_authorizer::Authorizer::new(config)?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, std::convert::Infallible>(authorizer.handle(&event.payload).await)
    }))
    .await
}
