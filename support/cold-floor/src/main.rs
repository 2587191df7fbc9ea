//! A Lambda function that does nothing: the same runtime (tokio's current-thread scheduler, `lambda_runtime`), the
//! same release profile, and a handler answering `{"floor":true}` without reading anything. Its cold start is the
//! floor under every function's figure in `cargo xtask bench cold-start`: process start, the dynamic loader, the
//! runtime's setup and the two Runtime API calls. Never deployed.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        Ok::<_, std::convert::Infallible>(serde_json::json!({"floor": true}))
    }))
    .await
}
