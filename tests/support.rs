//! Test support: start a real `lode-host` (and a real `redis-server`) on
//! ephemeral loopback ports, and talk to it over HTTP.
//!
//! Waiting is always on a condition with a deadline, never a fixed sleep.

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
            .env_remove("SPIN_HTTP_LISTEN_ADDR")
            // Compile each component once for the whole test run.
            .env(
                "LODE_COMPILE_CACHE",
                repo().join("target/lode-test-compile-cache"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start lode-host");
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
            "lode-host to print its address",
            // Generous: a cold compile cache means compiling every
            // component (three of them hold the 300 MB embed step).
            Duration::from_secs(900),
            || {
                if let Ok(Some(status)) = host.child.try_wait() {
                    panic!("lode-host exited with {status}:\n{}", host.log());
                }
                host.lines()
                    .iter()
                    .find_map(|l| l.strip_prefix("Serving ").map(str::to_string))
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
