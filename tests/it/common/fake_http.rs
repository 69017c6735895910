//! A scripted HTTP/1.1 server on 127.0.0.1 for fault injection: each request goes to a
//! handler that picks the reply (a status, a body cut off mid-way, a proxy to a real
//! server), and every request is logged with its `Authorization` header.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers.
pub enum Reply {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Announces the whole body's length, sends `sent` bytes of it, then closes the
    /// connection: a download that breaks off mid-body.
    Cut {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        sent: usize,
    },
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        match &mut self {
            Reply::Full { headers, .. } | Reply::Cut { headers, .. } => {
                headers.push((name.to_owned(), value.to_owned()))
            }
        }
        self
    }

    pub fn body(status: u16, body: Vec<u8>) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body,
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A listener on a free loopback port, stopped when dropped.
pub struct FakeServer {
    pub address: String,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (log, handler) = (log.clone(), handler.clone());
                    std::thread::spawn(move || serve(stream, &log, &*handler));
                }
            })
        };
        FakeServer {
            address,
            log,
            stop,
            accept: Some(accept),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// The `Authorization` values received, one per request that carried one.
    pub fn authorizations(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r.header("authorization").map(str::to_owned))
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.address);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Answers requests on one connection until the client closes it (keep-alive).
fn serve(stream: TcpStream, log: &Mutex<Vec<Request>>, handler: &Handler) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    // Bounded: no client of a test sends this many requests on one connection.
    for _ in 0..10_000 {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        log.lock().unwrap().push(request.clone());
        if !write_reply(&mut writer, &request, handler(&request)) {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().ok()?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        request.body = body;
    }
    Some(request)
}

/// Writes the reply; false when the connection must close.
fn write_reply(writer: &mut TcpStream, request: &Request, reply: Reply) -> bool {
    let (status, headers, body, sent) = match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let sent = body.len();
            (status, headers, body, sent)
        }
        Reply::Cut {
            headers,
            body,
            sent,
        } => (200, headers, body, sent),
    };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if request.method != "HEAD" {
        out.extend_from_slice(&body[..sent.min(body.len())]);
    }
    if writer.write_all(&out).is_err() || writer.flush().is_err() {
        return false;
    }
    if sent < body.len() {
        let _ = writer.shutdown(std::net::Shutdown::Both);
        return false;
    }
    true
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        206 => "Partial Content",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Forwards `request` to the server at `upstream` (`host:port`) and returns its answer,
/// with `Location` headers that point at `upstream` rewritten to `public` so the client
/// keeps talking to the fake.
pub fn proxy(request: &Request, upstream: &str, public: &str) -> Reply {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut forward = client.request(method, format!("http://{upstream}{}", request.path));
    for (name, value) in &request.headers {
        let skip = [
            "host",
            "authorization",
            "content-length",
            "connection",
            "transfer-encoding",
        ];
        if !skip.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            forward = forward.header(name.as_str(), value.as_str());
        }
    }
    let response = forward.body(request.body.clone()).send().unwrap();
    let status = response.status().as_u16();
    let mut headers = Vec::new();
    for (name, value) in response.headers() {
        let value = value.to_str().unwrap_or("").to_owned();
        let value = if name == reqwest::header::LOCATION {
            value.replace(&format!("http://{upstream}"), public)
        } else {
            value
        };
        if name != reqwest::header::CONTENT_LENGTH
            && name != reqwest::header::TRANSFER_ENCODING
            && name != reqwest::header::CONNECTION
        {
            headers.push((name.to_string(), value));
        }
    }
    let body = if request.method == "HEAD" {
        Vec::new()
    } else {
        response.bytes().unwrap().to_vec()
    };
    Reply::Full {
        status,
        headers,
        body,
    }
}
