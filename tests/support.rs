//! Test support: start a real `lode-host` (and a real `redis-server`) on
//! ephemeral loopback ports, and talk to it over HTTP.
//!
//! Waiting is always on a condition with a deadline, never a fixed sleep.

#[path = "llm_server.rs"]
pub mod llm_server;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `lode-host` binary cargo built next to this test binary.
pub fn host_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("lode-host");
    assert!(
        bin.exists(),
        "{} missing: run `make test` (it builds the host and the components)",
        bin.display()
    );
    bin
}

/// Poll `f` until it returns `Some`, or panic after `timeout` naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
        std::thread::park_timeout(Duration::from_millis(20));
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh, empty temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("lode-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `lode-host up`, killed on drop.
pub struct Host {
    child: Child,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Everything the host printed (stdout and stderr), line by line.
    pub output: Arc<Mutex<Vec<String>>>,
    /// The state directory (SQLite and key-value files).
    pub state_dir: PathBuf,
}

impl Host {
    /// Start `lode-host up` for `manifest` (relative to the repo) with extra environment.
    pub fn start(manifest: &str, env: &[(&str, &str)]) -> Host {
        Host::start_in(manifest, env, temp_dir("state"))
    }

    /// Like [`Host::start`], with a given state directory.
    pub fn start_in(manifest: &str, env: &[(&str, &str)], state_dir: PathBuf) -> Host {
        let mut cmd = Command::new(host_binary());
        cmd.args(["up", "--from"])
            .arg(repo().join(manifest))
            .args(["--listen", "127.0.0.1:0", "--state-dir"])
            .arg(&state_dir)
            // Compile each component once for the whole test run.
            .env(
                "LODE_COMPILE_CACHE",
                repo().join("target/lode-test-compile-cache"),
            );
        Host::spawn(cmd, "lode-host", env, state_dir)
    }

    /// Run `manifest` on the real Spin CLI at `spin` (`spin up`), listening
    /// on a free port, with its own state directory.
    pub fn start_spin(
        spin: &Path,
        manifest: &str,
        env: &[(&str, &str)],
        state_dir: PathBuf,
    ) -> Host {
        let mut cmd = Command::new(spin);
        cmd.args(["up", "--from"])
            .arg(repo().join(manifest))
            .args([
                "--listen",
                &format!("127.0.0.1:{}", free_port()),
                "--state-dir",
            ])
            .arg(&state_dir)
            // Spin's own wasmtime compilation cache, kept with the build.
            .env("XDG_CACHE_HOME", repo().join("target/spin-cache"));
        Host::spawn(cmd, "spin", env, state_dir)
    }

    fn spawn(mut cmd: Command, what: &str, env: &[(&str, &str)], state_dir: PathBuf) -> Host {
        cmd.env_remove("SPIN_HTTP_LISTEN_ADDR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line);
                }
            }));
        }
        let mut host = Host {
            child,
            readers,
            base: String::new(),
            output,
            state_dir,
        };
        host.base = wait_for(
            &format!("{what} to print its address"),
            // Generous: a cold compile cache means compiling every
            // component (four of them hold the 300 MB embed step).
            Duration::from_secs(900),
            || {
                if let Ok(Some(status)) = host.child.try_wait() {
                    panic!("{what} exited with {status}:\n{}", host.log());
                }
                host.lines().iter().find_map(|l| {
                    l.trim()
                        .strip_prefix("Serving ")
                        .map(|a| a.trim_end_matches('/').to_string())
                })
            },
        );
        host
    }

    /// A snapshot of the output lines.
    pub fn lines(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// The whole output as one string.
    pub fn log(&self) -> String {
        self.lines().join("\n")
    }

    /// Send a request; returns status and body (JSON when it parses, else a string).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let (ct, bytes) = body.unwrap_or(("", Vec::new()));
        let headers: &[(&str, &str)] = if ct.is_empty() {
            &[]
        } else {
            &[("content-type", ct)]
        };
        self.request(method, path, key, headers, bytes)
    }

    /// Send `head` (a request head, written by hand: any method, any
    /// headers) without a body, and read the answer until the server closes
    /// the connection or has sent its declared body.
    pub fn raw(&self, head: &str) -> String {
        use std::io::Write;
        let addr = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let (head, body) = read_message(&stream);
        head + &String::from_utf8_lossy(&body)
    }

    /// Send a request with arbitrary headers.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut resp = agent.run(req.body(body).unwrap()).expect("HTTP request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            json,
            text,
            headers,
        }
    }

    /// GET with an optional key.
    pub fn get(&self, path: &str, key: Option<&str>) -> Reply {
        self.call("GET", path, key, None)
    }

    /// A JSON request with a key.
    pub fn json(&self, method: &str, path: &str, key: &str, body: &Value) -> Reply {
        self.call(
            method,
            path,
            Some(key),
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    /// A new API key of `role` in `tenant`, created with the bootstrap key
    /// `admin`; returns the key itself.
    pub fn new_key(&self, admin: &str, tenant: &str, role: &str) -> String {
        let r = self.json(
            "POST",
            "/api/keys",
            admin,
            &serde_json::json!({"tenant": tenant, "name": role, "role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.json["key"].as_str().unwrap().to_string()
    }

    /// SIGKILL: the process dies at once, mid-request, mid-job, without any
    /// cleanup (the crash that durability must survive). Returns its output.
    pub fn kill(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        self.lines()
    }

    /// Send SIGTERM, wait for the exit status, and return it with the
    /// complete output (the readers have seen end-of-file).
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = wait_for("lode-host to exit", Duration::from_secs(30), || {
            self.child.try_wait().unwrap()
        });
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        (status, self.lines())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// Raw body.
    pub text: String,
    /// Response headers.
    pub headers: http::HeaderMap,
}

/// A real `redis-server` on a free loopback port, killed on drop.
pub struct Redis {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Redis {
    /// Start `redis-server` without persistence.
    pub fn start() -> Redis {
        Redis::start_on(free_port())
    }

    /// Start `redis-server` without persistence on `port`.
    pub fn start_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make setup installs it)");
        let redis = Redis { child, port };
        wait_for(
            "redis-server to accept connections",
            Duration::from_secs(20),
            || {
                redis
                    .connection()
                    .ok()
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c).ok())
            },
        );
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A client connection.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url())?.get_connection()
    }

    /// Number of subscribers on `channel`.
    pub fn subscribers(&self, channel: &str) -> i64 {
        let mut c = self.connection().unwrap();
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut c)
            .unwrap();
        n
    }

    /// Publish a message.
    pub fn publish(&self, channel: &str, message: &str) {
        let mut c = self.connection().unwrap();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query(&mut c)
            .unwrap();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A valid PDF with one text page per entry, Helvetica, written by hand so
/// the test owns every byte (offsets in the xref table are computed).
pub fn pdf(title: &str, author: &str, pages: &[&str]) -> Vec<u8> {
    let escape = |t: &str| {
        t.replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)")
    };
    let n = pages.len();
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R /Lang (en-GB) >>".into(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            (0..n)
                .map(|i| format!("{} 0 R", 4 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
    ];
    for (i, text) in pages.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let mut stream = String::from("BT /F1 12 Tf 72 720 Td 14 TL\n");
        for line in text.lines() {
            stream.push_str(&format!("({}) Tj T*\n", escape(line)));
        }
        stream.push_str("ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ));
    }
    objects.push(format!(
        "<< /Title ({}) /Author ({}) >>",
        escape(title),
        escape(author)
    ));
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info {} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1,
            objects.len()
        )
        .as_bytes(),
    );
    out
}

/// The boundary [`multipart`] uses.
pub const BOUNDARY: &str = "lode-test-boundary-7d1e";

/// A `multipart/form-data` body: files as (name, content type, bytes) in
/// the field `files`, then plain fields.
pub fn multipart(files: &[(&str, &str, &[u8])], fields: &[(&str, &str)]) -> Vec<u8> {
    let b = BOUNDARY;
    let mut out = Vec::new();
    for (name, ct, bytes) in files {
        out.extend(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n")
                .bytes(),
        );
        out.extend(*bytes);
        out.extend(b"\r\n");
    }
    for (name, value) in fields {
        out.extend(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .bytes(),
        );
    }
    out.extend(format!("--{b}--\r\n").bytes());
    out
}

/// Cranfield abstracts (`../shared/data/cranfield/cran.all.1400`), real
/// aeronautics text for ingestion tests and benchmarks: (id, title, text).
pub fn cranfield(n: usize) -> Vec<(u32, String, String)> {
    let path = repo().join("../shared/data/cranfield/cran.all.1400");
    let all = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (../shared must sit beside the repo)",
            path.display()
        )
    });
    let all = all.replace("\r\n", "\n"); // the file has CRLF line ends
    all.split(".I ")
        .filter(|r| !r.trim().is_empty())
        .filter_map(|record| {
            let id = record.lines().next()?.trim().parse().ok()?;
            let field = |tag: &str| {
                let start = record.find(&format!("\n{tag}\n"))? + tag.len() + 2;
                let end = record[start..]
                    .find("\n.")
                    .map_or(record.len(), |e| start + e);
                Some(
                    record[start..end]
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            };
            let title = field(".T")?;
            let text = field(".W")?;
            (text.len() > 200).then_some((id, title, text))
        })
        .take(n)
        .collect()
}

/// Text as PDF page content for [`pdf`]: lines of at most 90 characters
/// (each line is one `Tj`, and Helvetica 12 fits about 90 on a page).
pub fn pdf_page(text: &str) -> String {
    let mut out = vec![String::new()];
    for word in text.split_whitespace() {
        if out.last().unwrap().len() + word.len() > 90 {
            out.push(String::new());
        }
        let last = out.last_mut().unwrap();
        if !last.is_empty() {
            last.push(' ');
        }
        last.push_str(word);
    }
    out.join("\n")
}

/// One HTTP/1.1 message's head and its `Content-Length` body.
pub fn read_message(stream: &std::net::TcpStream) -> (String, Vec<u8>) {
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return (head, Vec::new()); // closed before the head ended
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (head, body)
}
