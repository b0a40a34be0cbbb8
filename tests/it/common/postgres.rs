//! A real PostgreSQL server for the tests, on a free loopback port.
//!
//! Every test that needs PostgreSQL gets one with [`PgServer::start`]
//! (the server at `DATABASE_URL` when it is set) or [`PgServer::own`] (a
//! server of its own, which it may stop and restart). Both decide in one
//! place what a missing PostgreSQL means: a failure when `CI=true`,
//! otherwise one line on stderr and a test that returns early.
//!
//! A server of its own is made with the system's `initdb` and `pg_ctl`
//! (`/usr/lib/postgresql/<version>/bin`, the newest version) in a fresh
//! temporary folder, through `runuser -u postgres --` when the tests run
//! as root (PostgreSQL refuses to run as root). Host connections need the
//! password [`PASSWORD`]. It is stopped, and its folder removed, on drop.
//!
//! The benchmarks include this file with `#[path]`, so it depends on
//! nothing else in `tests/it/common`.
#![allow(dead_code)]

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The password of the `postgres` user on a server of the tests' own, in
/// every URL; the server checks it only when started with
/// [`PgServer::own_with_password`] (sqlx's SCRAM handshake takes tens of
/// milliseconds in a debug build, too long for a burst of connections).
pub const PASSWORD: &str = "hunter2-pg";

/// The line printed when a test is skipped for want of PostgreSQL.
pub const SKIP_LINE: &str = "skipped: PostgreSQL not found (no DATABASE_URL, no /usr/lib/postgresql/*/bin/initdb; install it: apt-get install -y postgresql); set CI=true to make this a failure";

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb` and
/// `pg_ctl`, if any.
pub fn find_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// What to do when PostgreSQL is missing: panic under `CI=true`, else print
/// [`SKIP_LINE`] once on stderr. Returns `None` for the caller to return.
fn skip<T>() -> Option<T> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if in_ci {
        panic!(
            "PostgreSQL not found (no DATABASE_URL, no /usr/lib/postgresql/*/bin/initdb), \
             and CI=true: install it (apt-get install -y postgresql) so the PostgreSQL tests run"
        );
    }
    // Straight to stderr: the test harness captures `eprintln!` of tests
    // that pass, and this line must be seen.
    let _ = writeln!(std::io::stderr(), "{SKIP_LINE}");
    None
}

/// Whether this process runs as root.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// A PostgreSQL server: one of the tests' own (stopped on drop), or the
/// one at `DATABASE_URL`.
pub struct PgServer {
    url: String,
    own: Option<Own>,
}

/// A server this process started.
struct Own {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

impl PgServer {
    /// The server at `DATABASE_URL`, or else one of the test's own; `None`
    /// (after [`SKIP_LINE`]) when there is neither.
    pub fn start() -> Option<Self> {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return Some(PgServer { url, own: None });
        }
        Self::own()
    }

    /// A server of the test's own, even when `DATABASE_URL` is set (for
    /// tests that stop it); `None` (after [`SKIP_LINE`]) when `initdb` is
    /// missing.
    pub fn own() -> Option<Self> {
        let Some(bin) = find_bin_dir() else {
            return skip();
        };
        Some(Self::launch(&bin, false))
    }

    /// [`PgServer::own`], with host connections that must give
    /// [`PASSWORD`] (SCRAM).
    pub fn own_with_password() -> Option<Self> {
        let Some(bin) = find_bin_dir() else {
            return skip();
        };
        Some(Self::launch(&bin, true))
    }

    /// `initdb` a fresh folder and start the server on a free loopback
    /// port. Panics if it cannot be started.
    pub fn launch(bin: &Path, password: bool) -> Self {
        static SERVERS: AtomicUsize = AtomicUsize::new(0);
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("utility-webhooks-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let as_postgres = is_root();
        let password_file = dir.join("password");
        std::fs::write(&password_file, PASSWORD).unwrap();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown of {} failed", dir.display());
        }
        let mut own = Own {
            bin: bin.to_owned(),
            dir,
            port: 0,
            as_postgres,
            running: false,
        };
        let data = own.dir.join("data");
        own.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth-local=trust".as_ref(),
                if password {
                    "--auth-host=scram-sha-256".as_ref()
                } else {
                    "--auth-host=trust".as_ref()
                },
                format!("--pwfile={}", password_file.display()).as_ref(),
                "-N".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
            ],
        )
        .unwrap_or_else(|e| panic!("initdb failed: {e}"));
        // A port found free can be taken by another process before the
        // server binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..5 {
            own.port = free_port();
            match own.start() {
                Ok(()) => {
                    let url = format!(
                        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
                        own.port
                    );
                    return PgServer {
                        url,
                        own: Some(own),
                    };
                }
                Err(e) => last_error = e,
            }
        }
        panic!("PostgreSQL did not start: {last_error}");
    }

    /// `postgres://postgres:<password>@127.0.0.1:<port>/postgres`, or
    /// `DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port of a server of the test's own.
    pub fn port(&self) -> Option<u16> {
        self.own.as_ref().map(|own| own.port)
    }

    /// Stop the server at once (`pg_ctl stop -m immediate`, as a crash
    /// would). Panics for the server at `DATABASE_URL`.
    pub fn stop(&mut self) {
        self.own
            .as_mut()
            .expect("a server of the test's own")
            .stop();
    }

    /// Start it again on the same port. Panics if it cannot be started.
    pub fn restart(&mut self) {
        let own = self.own.as_mut().expect("a server of the test's own");
        own.stop();
        if let Err(e) = own.start() {
            panic!("PostgreSQL did not restart on port {}: {e}", own.port);
        }
    }
}

impl Own {
    /// Run `tool` from the server's bin folder, as `postgres` when needed.
    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            Err(format!(
                "{tool} exited with {}: {}",
                out.status,
                tail.join(" | ")
            ))
        }
    }

    fn start(&mut self) -> Result<(), String> {
        let data = self.dir.join("data");
        let log = self.dir.join("server.log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off \
             -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let result = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "30".as_ref(),
                "start".as_ref(),
            ],
        );
        match result {
            Ok(()) => {
                self.running = true;
                Ok(())
            }
            Err(e) => {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                let _ = self.stop_now();
                Err(format!("{e}; log: {}", tail.join(" | ")))
            }
        }
    }

    fn stop_now(&mut self) -> Result<(), String> {
        let data = self.dir.join("data");
        self.running = false;
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )
    }

    fn stop(&mut self) {
        if self.running {
            let _ = self.stop_now();
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(own) = &mut self.own {
            own.stop();
            let _ = std::fs::remove_dir_all(&own.dir);
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the loopback interface has a free port")
}

/// A table name no other test of this process uses, for tests that share
/// the server at `DATABASE_URL`.
pub fn unique_table(prefix: &str) -> String {
    static TABLES: AtomicUsize = AtomicUsize::new(0);
    let n = TABLES.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{n}", std::process::id())
}
