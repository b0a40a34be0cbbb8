//! A real `redis-server` for the tests, on a free loopback port.
//!
//! Every test that needs Redis starts one with [`RedisServer::start`] (or
//! [`RedisServer::start_with`]), which decides in one place what a missing
//! `redis-server` means: a failure when `CI=true`, otherwise one line on
//! stderr and a test that returns early.
//!
//! The benchmarks include this file with `#[path]`, so it depends on
//! nothing else in `tests/it/common`.
#![allow(dead_code)]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer `PING` after it was started.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The line printed when a test is skipped for want of `redis-server`.
pub const SKIP_LINE: &str = "skipped: redis-server not found on PATH (install it: apt-get install -y redis-server); set CI=true to make this a failure";

/// How to run the server.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--requirepass`: clients must authenticate with it.
    pub password: Option<String>,
    /// Keep the data across [`RedisServer::restart`]: an append-only file
    /// written before each answer (`appendfsync no` still writes it before
    /// answering, so a killed process loses nothing it acknowledged).
    /// Without it, a restart starts empty.
    pub persistent: bool,
    /// `--cluster-enabled yes`: a node for [`RedisCluster`], on a port
    /// whose cluster bus port (10 000 above it) is free too.
    pub cluster: bool,
}

/// The `redis-server` binary on `PATH`, if there is one.
pub fn find_redis_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

/// The `redis-server` binary, or `None` when the test should be skipped.
///
/// When it is missing and the environment variable `CI` is `true`, this
/// panics: a missing server must fail a CI run, not pass it silently.
/// Otherwise it prints one line on stderr saying how to install it.
pub fn redis_server_or_skip() -> Option<PathBuf> {
    if let Some(binary) = find_redis_server() {
        return Some(binary);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if in_ci {
        panic!(
            "redis-server not found on PATH, and CI=true: install it \
             (apt-get install -y redis-server) so the Redis tests run"
        );
    }
    // Straight to stderr: the test harness captures `eprintln!` of tests
    // that pass, and this line must be seen.
    let _ = writeln!(std::io::stderr(), "{SKIP_LINE}");
    None
}

/// A `redis-server` child process on `127.0.0.1:<port>`, killed on drop.
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    options: Options,
    /// Holds the log and, when persistent, the append-only file.
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// A server with no password and no persistence, or `None` (after
    /// [`redis_server_or_skip`]'s line) when `redis-server` is missing.
    pub fn start() -> Option<Self> {
        Self::start_with(Options::default())
    }

    /// A server run with `options`, or `None` when the test should be
    /// skipped.
    pub fn start_with(options: Options) -> Option<Self> {
        let binary = redis_server_or_skip()?;
        Some(Self::launch(&binary, options))
    }

    /// Start `binary` on a free loopback port and wait until it answers.
    /// Panics if it cannot be started.
    pub fn launch(binary: &Path, options: Options) -> Self {
        // A port found free can be taken by another process before the
        // server binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = if options.cluster {
                free_cluster_port()
            } else {
                free_port()
            };
            let mut server = RedisServer {
                binary: binary.to_owned(),
                port,
                options: options.clone(),
                dir: scratch_dir(port),
                child: None,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://[:password@]127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        match &self.options.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// A client for raw commands (to inspect keys), authenticated if
    /// needed.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("the server's URL is valid")
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kill the server (`SIGKILL`, as a crash would) and wait for it to
    /// exit. Does nothing if it is stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop the server if it runs, start it again on the same port, and
    /// wait until it answers. Panics if it cannot be started.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn() {
            panic!("redis-server did not restart on port {}: {e}", self.port);
        }
    }

    /// Start the process and wait until it answers `PING`.
    fn spawn(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let log = self.dir.join("redis.log");
        let mut command = Command::new(&self.binary);
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log);
        if self.options.persistent {
            command.args(["--appendonly", "yes", "--appendfsync", "no"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        if let Some(password) = &self.options.password {
            command.arg("--requirepass").arg(password);
        }
        if self.options.cluster {
            command.args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
            ]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        self.child = Some(child);
        match self.wait_until_ready() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stop();
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                Err(format!("{e}; log: {}", tail.join(" | ")))
            }
        }
    }

    /// Poll until the server answers `PING`, it exits, or
    /// [`READY_WITHIN`] passes.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let client = self.client();
        loop {
            let exited = match &mut self.child {
                Some(child) => child.try_wait().ok().flatten(),
                None => None,
            };
            if let Some(status) = exited {
                return Err(format!("exited with {status}"));
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
                && answers_ping(&client)
            {
                return Ok(());
            }
            if started.elapsed() > READY_WITHIN {
                return Err(format!("no answer to PING within {READY_WITHIN:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `PING` over a fresh connection, with short timeouts, gets
/// `PONG`. While the server loads its data it answers `LOADING`, an error.
fn answers_ping(client: &redis::Client) -> bool {
    let timeout = Duration::from_millis(500);
    let Ok(mut connection) = client.get_connection_with_timeout(timeout) else {
        return false;
    };
    let _ = connection.set_read_timeout(Some(timeout));
    let _ = connection.set_write_timeout(Some(timeout));
    redis::cmd("PING")
        .query::<String>(&mut connection)
        .is_ok_and(|pong| pong == "PONG")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the loopback interface has a free port")
}

/// A loopback port that was free a moment ago, with the port 10 000 above
/// it (a cluster node's bus) free too.
pub fn free_cluster_port() -> u16 {
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    for _ in 0..1000 {
        // A free port's low digits, moved into 20 000..45 000, so that the
        // bus port is below 65 536.
        let port = 20_000 + free_port() % 25_000;
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
    panic!("no loopback port with a free cluster bus port");
}

/// Three `redis-server` nodes joined in a cluster (`redis-cli --cluster
/// create`), each a primary with a third of the slots, persistent so that
/// a restarted node comes back with its keys. Stopped on drop.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// A cluster, or `None` (after [`redis_server_or_skip`]'s line) when
    /// `redis-server` is missing. Panics if it cannot be formed.
    pub fn start() -> Option<Self> {
        let binary = redis_server_or_skip()?;
        let options = Options {
            persistent: true,
            cluster: true,
            ..Options::default()
        };
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| RedisServer::launch(&binary, options.clone()))
            .collect();
        let cli = binary.with_file_name("redis-cli");
        let mut create = Command::new(&cli);
        create.args(["--cluster", "create"]);
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port()));
        }
        let output = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", cli.display()));
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = RedisCluster { nodes };
        cluster.wait_until_ok();
        Some(cluster)
    }

    /// `redis://127.0.0.1:<port>/` of each node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// Kill node `index` (`SIGKILL`, as a crash would).
    pub fn stop(&mut self, index: usize) {
        self.nodes[index].stop();
    }

    /// Kill node `index` if it runs and start it again on its port, with
    /// its data and its cluster configuration; wait until the cluster is
    /// whole.
    pub fn restart(&mut self, index: usize) {
        self.nodes[index].restart();
        self.wait_until_ok();
    }

    /// Wait until every node reports `cluster_state:ok`.
    fn wait_until_ok(&self) {
        let started = Instant::now();
        for node in &self.nodes {
            loop {
                let info: Option<String> = node
                    .client()
                    .get_connection_with_timeout(Duration::from_millis(500))
                    .ok()
                    .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query(&mut c).ok());
                if info.is_some_and(|i| i.contains("cluster_state:ok")) {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the cluster is not ok after 30 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A fresh folder under the system's temporary folder for one server.
fn scratch_dir(port: u16) -> PathBuf {
    static SERVERS: AtomicUsize = AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "utility-webhooks-redis-{}-{port}-{n}",
        std::process::id()
    ))
}
