//! A stand-in for Secrets Manager's `GetSecretValue` (the AWS JSON 1.1 protocol the SDK speaks): any secret id
//! answers with the secret string it was given, or, switched, with a service error. Enough for the functions'
//! cold start and for configuration-failure tests; it checks no signature.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What `GetSecretValue` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The secret's string value.
    Secret(String),
    /// `ResourceNotFoundException` (400).
    NotFound,
    /// `InternalServiceError` (500).
    ServiceError,
}

/// A running stand-in; its thread ends with the process (listeners are cheap and tests are short).
#[derive(Debug)]
pub struct SecretsStandin {
    pub addr: SocketAddr,
    answers: Arc<Mutex<Answers>>,
    calls: Arc<AtomicUsize>,
}

/// The answer for any secret, and per secret id.
#[derive(Debug)]
struct Answers {
    default: Answer,
    by_id: Vec<(String, Answer)>,
}

impl SecretsStandin {
    /// A stand-in answering `answer` for every secret id.
    pub fn start(answer: Answer) -> std::io::Result<SecretsStandin> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let answers = Arc::new(Mutex::new(Answers { default: answer, by_id: Vec::new() }));
        let calls = Arc::new(AtomicUsize::new(0));
        let (a, c) = (answers.clone(), calls.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_nodelay(true);
                let (a, c) = (a.clone(), c.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &a, &c);
                });
            }
        });
        Ok(SecretsStandin { addr, answers, calls })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, answer `answer` for every secret id without its own answer.
    pub fn set(&self, answer: Answer) {
        if let Ok(mut a) = self.answers.lock() {
            a.default = answer;
        }
    }

    /// From now on, answer `answer` for `secret_id` (an ARN or a name).
    pub fn set_for(&self, secret_id: &str, answer: Answer) {
        if let Ok(mut a) = self.answers.lock() {
            a.by_id.retain(|(id, _)| id != secret_id);
            a.by_id.push((secret_id.to_owned(), answer));
        }
    }

    /// `GetSecretValue` calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, answers: &Mutex<Answers>, calls: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let Some((_, headers)) = crate::http1::read_head(&mut reader)? else { return Ok(()) };
        let body = crate::http1::read_body(&mut reader, &headers)?;
        calls.fetch_add(1, Ordering::SeqCst);
        let id = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["SecretId"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let current = answers
            .lock()
            .map(|a| {
                a.by_id.iter().find(|(i, _)| *i == id).map(|(_, x)| x.clone()).unwrap_or_else(|| a.default.clone())
            })
            .unwrap_or(Answer::ServiceError);
        let (status, text) = match current {
            Answer::Secret(secret) => (
                200,
                serde_json::json!({
                    "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:career-local-AbCdEf",
                    "Name": "career-local",
                    "VersionId": "01234567-89ab-cdef-0123-456789abcdef",
                    "SecretString": secret,
                    "VersionStages": ["AWSCURRENT"],
                    "CreatedDate": 1.7e9
                })
                .to_string(),
            ),
            Answer::NotFound => (
                400,
                r#"{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}"#
                    .to_owned(),
            ),
            Answer::ServiceError => (500, r#"{"__type":"InternalServiceError","Message":"stand-in failure"}"#.to_owned()),
        };
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        )?;
        stream.flush()?;
    }
}
