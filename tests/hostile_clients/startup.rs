//! Start-up of the real binary: refusals that name what failed, and the store's file modes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `ece-server ARGS` with a clean environment; returns (success, stderr).
fn run(args: &[&str], data_dir: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ece-server"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_clear()
        .envs(env.iter().copied())
        .env("ECE_LOG", "warn")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bootstrap_passwords_outside_the_policy_are_refused_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("ECE_ADMIN_PASSWORD", "short"),
        ("ECE_READONLY_PASSWORD", &"x".repeat(129)),
    ] {
        let (ok, err) = run(
            &["serve", "--listen", "127.0.0.1:0"],
            dir.path(),
            &[(var, value)],
        );
        assert!(!ok, "{var}={value} accepted");
        assert!(err.contains(var), "{var}: {err}");
        assert!(!err.contains(value), "the password is echoed: {err}");
    }
    assert!(
        !dir.path().join("ece.db").exists(),
        "refused before the store"
    );
}

#[test]
fn an_empty_database_file_or_a_file_as_data_dir_is_refused_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ece.db");
    std::fs::write(&db, b"").unwrap();
    let (ok, err) = run(&["migrate"], dir.path(), &[]);
    assert!(!ok, "an empty ece.db was accepted");
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains("empty"), "{err}");

    std::fs::write(
        &db,
        b"this is not a database, but long enough to be read as one......",
    )
    .unwrap();
    let (ok, err) = run(&["migrate"], dir.path(), &[]);
    assert!(!ok);
    assert!(err.contains(&db.display().to_string()), "{err}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let (ok, err) = run(&["migrate"], &file, &[]);
    assert!(!ok);
    assert!(err.contains(&file.display().to_string()), "{err}");
}

#[cfg(unix)]
#[test]
fn the_store_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ece-server"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&dir)
        .env_clear()
        .env("ECE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The server is up once it accepts connections; the WAL files exist by then.
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        && started.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
    let modes: Vec<_> = ["ece.db", "ece.db-wal", "ece.db-shm"]
        .iter()
        .map(|f| (f.to_string(), mode(&dir.join(f))))
        .collect();
    let dir_mode = mode(&dir);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(dir_mode.unwrap(), 0o700, "data directory");
    for (file, m) in modes {
        assert_eq!(m.unwrap_or_else(|e| panic!("{file}: {e}")), 0o600, "{file}");
    }
}
