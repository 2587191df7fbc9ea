//! The AWS calls `cargo xtask deploy` makes itself (Terraform makes the rest): CodeDeploy's JSON 1.1 API
//! (deployments), Lambda's Invoke (the pre-traffic check) and S3 objects (the record of what is deployed). A few operations do not justify two SDK crates
//! (aws-sdk-codedeploy and aws-sdk-s3 would add their generated clients to the task runner's build); requests are
//! JSON or bytes signed with Signature Version 4 by `aws-sigv4`, already in the tree, with the credentials of the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: what GitHub's OIDC action and
//! `aws configure export-credentials` put there). The requests are held to CodeDeploy's published model by the
//! contract check over the stand-in's recordings (`deploy::tests`).

use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::Value;

/// Where and as whom to call AWS.
#[derive(Clone)]
pub struct Aws {
    region: String,
    credentials: (String, String, Option<String>),
    /// Per-service endpoint overrides (the emulator and the stand-ins); `None`: AWS's regional endpoints.
    pub codedeploy: Option<String>,
    pub s3: Option<String>,
    pub lambda: Option<String>,
    /// Every other service's endpoint (the emulator's), for the inventory of what a stage left.
    pub other: Option<String>,
    http: reqwest::Client,
    runtime: std::sync::Arc<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Aws {
    // The credentials never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws").field("region", &self.region).field("codedeploy", &self.codedeploy).finish()
    }
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

impl Aws {
    /// From the environment; fails with what to set when there are no credentials.
    pub fn from_environment(region: &str) -> Result<Aws> {
        let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) else {
            bail!(
                "no AWS credentials in the environment: set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and \
                 AWS_SESSION_TOKEN), e.g. `eval \"$(aws configure export-credentials --format env)\"`, or run from the \
                 pipeline, whose OIDC role sets them"
            )
        };
        Aws::new(region, (id, secret, env("AWS_SESSION_TOKEN")))
    }

    /// For an emulator or stand-ins, with their test credentials.
    pub fn emulated(region: &str, codedeploy: &str, s3: &str) -> Result<Aws> {
        let mut aws = Aws::new(region, ("test".into(), "test".into(), None))?;
        aws.codedeploy = Some(codedeploy.to_owned());
        aws.s3 = Some(s3.to_owned());
        aws.other = Some(s3.to_owned());
        Ok(aws)
    }

    fn new(region: &str, credentials: (String, String, Option<String>)) -> Result<Aws> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(Aws {
            region: region.to_owned(),
            credentials,
            codedeploy: None,
            s3: None,
            lambda: None,
            other: None,
            http,
            runtime: std::sync::Arc::new(runtime),
        })
    }

    /// One CodeDeploy operation; an error answer is `Err` with AWS's code and message.
    pub fn codedeploy(&self, operation: &str, body: &Value) -> Result<Value> {
        let url = match &self.codedeploy {
            Some(u) => format!("{}/", u.trim_end_matches('/')),
            None => format!("https://codedeploy.{}.amazonaws.com/", self.region),
        };
        let target = format!("CodeDeploy_20141006.{operation}");
        let payload = serde_json::to_vec(body)?;
        let (status, text) = self.send(
            "POST",
            &url,
            "codedeploy",
            &[("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())],
            payload,
        )?;
        let answer: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let code = answer["__type"].as_str().unwrap_or("unknown").rsplit('#').next().unwrap_or("unknown").to_owned();
        let message = answer["message"].as_str().or(answer["Message"].as_str()).unwrap_or_default();
        Err(anyhow!(AwsError { code, message: message.to_owned() }))
            .with_context(|| format!("CodeDeploy {operation} answered {status}"))
    }

    fn s3_url(&self, bucket: &str, key: &str) -> String {
        match &self.s3 {
            Some(u) => format!("{}/{bucket}/{key}", u.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{}.amazonaws.com/{key}", self.region),
        }
    }

    /// Invokes a version of a function and waits for its answer: the payload, and whether Lambda reported a function
    /// error (`X-Amz-Function-Error`).
    pub fn invoke(&self, function: &str, version: &str, event: &Value) -> Result<(Value, bool)> {
        let base = match &self.lambda {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("https://lambda.{}.amazonaws.com", self.region),
        };
        let url = format!("{base}/2015-03-31/functions/{function}/invocations?Qualifier={version}");
        let (status, body, function_error) = self.send_with(
            "POST",
            &url,
            "lambda",
            &[("content-type", "application/json")],
            serde_json::to_vec(event)?,
        )?;
        if !(200..300).contains(&status) {
            bail!("Lambda Invoke {function}:{version} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok((serde_json::from_slice(&body).unwrap_or(Value::Null), function_error))
    }

    /// An unsigned request (the smoke test's, as a client without a token would send it); the status.
    pub fn status_of(&self, method: &str, url: &str) -> Result<u16> {
        let request = self.http.request(method.parse()?, url);
        self.runtime.block_on(async {
            let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
            Ok(response.status().as_u16())
        })
    }

    /// Writes an object.
    pub fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<()> {
        let url = self.s3_url(bucket, key);
        let (status, text) = self.send("PUT", &url, "s3", &[("content-type", "application/json")], body)?;
        if !(200..300).contains(&status) {
            bail!("S3 PutObject s3://{bucket}/{key} answered {status}: {}", String::from_utf8_lossy(&text));
        }
        Ok(())
    }

    /// Reads an object; `None` when it does not exist.
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let url = self.s3_url(bucket, key);
        let (status, text) = self.send("GET", &url, "s3", &[], Vec::new())?;
        match status {
            200..=299 => Ok(Some(text)),
            404 => Ok(None),
            _ => bail!("S3 GetObject s3://{bucket}/{key} answered {status}: {}", String::from_utf8_lossy(&text)),
        }
    }

    /// The keys under a prefix (ListObjectsV2, every page).
    pub fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = format!("{}?list-type=2&prefix={}", self.s3_url(bucket, ""), encode(prefix));
            if let Some(t) = &token {
                url.push_str(&format!("&continuation-token={}", encode(t)));
            }
            let (status, body) = self.send("GET", &url, "s3", &[], Vec::new())?;
            let text = String::from_utf8_lossy(&body);
            if status != 200 {
                bail!("S3 ListObjectsV2 s3://{bucket}/{prefix} answered {status}: {text}");
            }
            keys.extend(xml_values(&text, "Key"));
            token = xml_values(&text, "NextContinuationToken").into_iter().next();
            if token.is_none() {
                return Ok(keys);
            }
        }
    }

    /// ListBuckets: the XML answer.
    pub fn list_buckets(&self) -> Result<String> {
        let url = match &self.s3 {
            Some(u) => format!("{}/", u.trim_end_matches('/')),
            None => format!("https://s3.{}.amazonaws.com/", self.region),
        };
        let (status, body) = self.send("GET", &url, "s3", &[], Vec::new())?;
        let text = String::from_utf8_lossy(&body).into_owned();
        if status != 200 {
            bail!("S3 ListBuckets answered {status}: {text}");
        }
        Ok(text)
    }

    /// Deletes an object (done when it is not there).
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let (status, text) = self.send("DELETE", &self.s3_url(bucket, key), "s3", &[], Vec::new())?;
        if !(200..300).contains(&status) && status != 404 {
            bail!("S3 DeleteObject s3://{bucket}/{key} answered {status}: {}", String::from_utf8_lossy(&text));
        }
        Ok(())
    }

    fn endpoint(&self, service: &str) -> String {
        match &self.other {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None if service == "iam" => "https://iam.amazonaws.com".to_owned(),
            None => format!("https://{service}.{}.amazonaws.com", self.region),
        }
    }

    /// One operation of a JSON 1.0/1.1 service (`logs`, `kms`, `secretsmanager`, `sqs`): `target` is the
    /// `X-Amz-Target` (`Logs_20140328.DescribeLogGroups`).
    pub fn json_call(&self, service: &str, version: &str, target: &str, body: &Value) -> Result<Value> {
        let url = format!("{}/", self.endpoint(service));
        let content_type = format!("application/x-amz-json-{version}");
        let headers = [("content-type", content_type.as_str()), ("x-amz-target", target)];
        let (status, text) = self.send("POST", &url, service, &headers, serde_json::to_vec(body)?)?;
        if !(200..300).contains(&status) {
            bail!("{target} answered {status}: {}", String::from_utf8_lossy(&text));
        }
        Ok(serde_json::from_slice(&text).unwrap_or(Value::Null))
    }

    /// One GET of a REST JSON service (`lambda`, `apigateway`, `scheduler`): the answer.
    pub fn rest_get(&self, service: &str, path: &str) -> Result<Value> {
        let url = format!("{}{path}", self.endpoint(service));
        let (status, text) = self.send("GET", &url, service, &[], Vec::new())?;
        if !(200..300).contains(&status) {
            bail!("GET {path} ({service}) answered {status}: {}", String::from_utf8_lossy(&text));
        }
        Ok(serde_json::from_slice(&text).unwrap_or(Value::Null))
    }

    /// One action of a query service (`iam`, `monitoring`, `sns`): the XML answer.
    pub fn query(&self, service: &str, params: &[(&str, &str)]) -> Result<String> {
        let url = format!("{}/", self.endpoint(service));
        let body: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let (status, text) = self.send("POST", &url, service, &headers, body.join("&").into_bytes())?;
        let text = String::from_utf8_lossy(&text).into_owned();
        if !(200..300).contains(&status) {
            bail!("{} ({service}) answered {status}: {text}", params.first().map_or("", |p| p.1));
        }
        Ok(text)
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        service: &str,
        headers: &[(&str, &str)],
        payload: Vec<u8>,
    ) -> Result<(u16, Vec<u8>)> {
        self.send_with(method, url, service, headers, payload).map(|(status, body, _)| (status, body))
    }

    /// [`Aws::send`], also saying whether the answer carries `X-Amz-Function-Error`.
    fn send_with(
        &self,
        method: &str,
        url: &str,
        service: &str,
        headers: &[(&str, &str)],
        payload: Vec<u8>,
    ) -> Result<(u16, Vec<u8>, bool)> {
        let host = url.split_once("://").map(|(_, r)| r.split('/').next().unwrap_or(r)).unwrap_or_default();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("host", host));
        let (id, secret, token) = &self.credentials;
        let identity = aws_credential_types::Credentials::new(id, secret, token.clone(), None, "environment").into();
        let mut settings = SigningSettings::default();
        if service == "s3" {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()?
            .into();
        let signable = SignableRequest::new(method, url, all.iter().copied(), SignableBody::Bytes(&payload))?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut request = self.http.request(method.parse()?, url).body(payload);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        for (k, v) in instructions.headers() {
            request = request.header(k, v);
        }
        self.runtime.block_on(async {
            let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
            let status = response.status().as_u16();
            let function_error = response.headers().contains_key("x-amz-function-error");
            let bytes = response.bytes().await?.to_vec();
            Ok((status, bytes, function_error))
        })
    }
}

/// `%`-encoding of everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of every `<tag>…</tag>` in an XML answer (the names and keys these listings read have no markup).
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| v.replace("&amp;", "&").replace("&lt;", "<")))
        .collect()
}

/// An AWS error answer.
#[derive(Debug)]
pub struct AwsError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

/// The AWS error code of an error from [`Aws::codedeploy`], if it is one.
pub fn code(e: &anyhow::Error) -> Option<&str> {
    e.downcast_ref::<AwsError>().map(|a| a.code.as_str())
}
