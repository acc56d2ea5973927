//! Compiling Python contracts with neo3-boa.

use std::fs;
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{DevchainError, Result};
use crate::tools::{NEO3_BOA_VERSION, ToolCache, run, tail};

/// How deep [`compile_contract_cached`] looks for `.py` files below the source's directory.
const KEY_MAX_DEPTH: usize = 4;

/// A compiled contract: what `ContractManagement.deploy` takes.
#[derive(Clone, PartialEq, Eq)]
pub struct CompiledContract {
    /// The NEF file's bytes.
    pub nef: Vec<u8>,
    /// The manifest as JSON text.
    pub manifest: String,
}

impl std::fmt::Debug for CompiledContract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledContract")
            .field("nef_len", &self.nef.len())
            .field("manifest_len", &self.manifest.len())
            .finish()
    }
}

impl CompiledContract {
    /// The contract's name from its manifest (part of the deployed contract's hash).
    pub fn name(&self) -> Result<String> {
        let v: serde_json::Value = serde_json::from_str(&self.manifest)
            .map_err(|e| DevchainError::Config(format!("manifest is not JSON: {e}")))?;
        v.get("name")
            .and_then(|n| n.as_str())
            .map(str::to_owned)
            .ok_or_else(|| DevchainError::Config("manifest has no name".into()))
    }
}

/// Compile the neo3-boa contract at `source` (a `.py` file) into NEF bytes and manifest JSON.
///
/// Output goes to a temporary directory, never next to the source, so parallel compiles of the
/// same file do not race. Installs neo3-boa into the cache first if needed. Blocking (~0.5 s).
pub fn compile_contract(cache: &ToolCache, source: &Path) -> Result<CompiledContract> {
    let boa = cache.neo3_boa()?;
    let source = fs::canonicalize(source)
        .map_err(|e| DevchainError::io(format!("contract source {}", source.display()), e))?;
    let stem = source
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DevchainError::Config(format!("bad contract path {}", source.display())))?
        .to_owned();
    let out = tempfile::tempdir().map_err(|e| DevchainError::io("creating a build dir", e))?;
    let nef_path = out.path().join(format!("{stem}.nef"));
    let manifest_path = out.path().join(format!("{stem}.manifest.json"));
    let mut cmd = Command::new(&boa);
    cmd.arg("compile").arg(&source).arg("-o").arg(&nef_path);
    let compile_err = |detail: String| DevchainError::Compile {
        path: source.display().to_string(),
        detail,
    };
    let output = run(&mut cmd, "neo3-boa compile").map_err(|e| match e {
        DevchainError::Tool { detail, .. } => compile_err(detail),
        other => other,
    })?;
    let nef = fs::read(&nef_path).map_err(|_| {
        compile_err(tail(
            &format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
            20,
        ))
    })?;
    let manifest = fs::read_to_string(&manifest_path)
        .map_err(|e| DevchainError::io("reading the compiled manifest", e))?;
    Ok(CompiledContract { nef, manifest })
}

/// Like [`compile_contract`], with the output cached in the tool cache.
///
/// neo3-boa is slow on large contracts (seconds of CPU) and every test process would compile
/// again. The output is stored as `<cache>/contracts/<key>.nef` and `<key>.manifest.json`, where
/// `key` is the SHA-256 of the neo3-boa version, the source's file name, and every `.py` file
/// under the source's directory (relative path and content, up to 4 levels, hidden directories
/// and `__pycache__` skipped) — so editing the contract or a module it imports from its
/// directory recompiles. Concurrent processes compile once (exclusive lock on `<key>.lock`);
/// files are published atomically, the manifest last.
pub fn compile_contract_cached(cache: &ToolCache, source: &Path) -> Result<CompiledContract> {
    let source = fs::canonicalize(source)
        .map_err(|e| DevchainError::io(format!("contract source {}", source.display()), e))?;
    let key = cache_key(&source)?;
    let dir = cache.dir().join("contracts");
    fs::create_dir_all(&dir).map_err(|e| DevchainError::io("creating the contract cache", e))?;
    let nef_path = dir.join(format!("{key}.nef"));
    let manifest_path = dir.join(format!("{key}.manifest.json"));
    let cached = || -> Option<CompiledContract> {
        // The manifest is published last: if it is there, the NEF is complete.
        let manifest = fs::read_to_string(&manifest_path).ok()?;
        Some(CompiledContract {
            nef: fs::read(&nef_path).ok()?,
            manifest,
        })
    };
    if let Some(c) = cached() {
        return Ok(c);
    }
    let lock = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{key}.lock")))
        .map_err(|e| DevchainError::io("opening the contract cache lock", e))?;
    lock.lock()
        .map_err(|e| DevchainError::io("locking the contract cache", e))?;
    if let Some(c) = cached() {
        return Ok(c);
    }
    let compiled = compile_contract(cache, &source)?;
    publish(&nef_path, &compiled.nef)?;
    publish(&manifest_path, compiled.manifest.as_bytes())?;
    Ok(compiled)
}

/// Like [`compile_contract_cached`], for a contract whose source is held in memory (embedded in
/// the binary with `include_str!`), so no checkout is needed at run time.
///
/// The source is written to `<cache>/sources/<sha256 of file name and source>/<file_name>` (a
/// directory of its own: nothing else there enters the compile cache key), then compiled through
/// [`compile_contract_cached`]. A single-file contract in a checkout directory of its own gets the
/// same cache key, so the embedded copy and the checkout share one compiled output. `file_name`
/// must be a plain `*.py` file name (neo3-boa takes the contract's module name from it).
pub fn compile_source_cached(
    cache: &ToolCache,
    file_name: &str,
    source: &str,
) -> Result<CompiledContract> {
    let plain = Path::new(file_name).file_name().and_then(|n| n.to_str()) == Some(file_name);
    if !plain || !file_name.ends_with(".py") || file_name.len() <= ".py".len() {
        return Err(DevchainError::Config(format!(
            "bad contract file name {file_name:?} (a plain *.py name)"
        )));
    }
    let mut h = Sha256::new();
    h.update(file_name.as_bytes());
    h.update([0]);
    h.update(source.as_bytes());
    let dir = cache.dir().join("sources").join(hex::encode(h.finalize()));
    fs::create_dir_all(&dir)
        .map_err(|e| DevchainError::io(format!("creating {}", dir.display()), e))?;
    let path = dir.join(file_name);
    // Written whole and renamed: a concurrent process never compiles half a file.
    if fs::read(&path).ok().as_deref() != Some(source.as_bytes()) {
        publish(&path, source.as_bytes())?;
    }
    compile_contract_cached(cache, &path)
}

fn publish(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| DevchainError::io(format!("writing {}", path.display()), e))
}

fn cache_key(source: &Path) -> Result<String> {
    let root = source
        .parent()
        .ok_or_else(|| DevchainError::Config(format!("bad contract path {}", source.display())))?;
    let mut files = Vec::new();
    collect_py(root, root, 0, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    h.update(NEO3_BOA_VERSION.as_bytes());
    h.update([0]);
    h.update(
        source
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default(),
    );
    h.update([0]);
    for (rel, path) in files {
        let content = fs::read(&path)
            .map_err(|e| DevchainError::io(format!("reading {}", path.display()), e))?;
        h.update(rel.as_bytes());
        h.update([0]);
        h.update((content.len() as u64).to_le_bytes());
        h.update(&content);
    }
    Ok(hex::encode(h.finalize()))
}

fn collect_py(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<()> {
    let entries = fs::read_dir(dir)
        .map_err(|e| DevchainError::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| DevchainError::io(format!("listing {}", dir.display()), e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| DevchainError::io(format!("reading {}", path.display()), e))?;
        if kind.is_dir() && depth < KEY_MAX_DEPTH {
            collect_py(root, &path, depth + 1, out)?;
        } else if kind.is_file() && name.ends_with(".py") {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push((rel, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_file_names_must_be_plain_python_files() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = ToolCache::new(tmp.path());
        for bad in ["", ".py", "x.txt", "../x.py", "a/x.py", "/x.py"] {
            let err = compile_source_cached(&cache, bad, "x = 1\n").unwrap_err();
            assert!(matches!(err, DevchainError::Config(_)), "{bad:?}: {err}");
        }
    }

    #[test]
    fn cache_key_follows_sources_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("c.py");
        fs::write(&main, "x = 1\n").unwrap();
        let k1 = cache_key(&main).unwrap();
        assert_eq!(k1, cache_key(&main).unwrap());
        // A sibling module changes the key; a non-Python file does not.
        fs::write(dir.path().join("README.md"), "hi").unwrap();
        assert_eq!(k1, cache_key(&main).unwrap());
        fs::create_dir(dir.path().join("lib")).unwrap();
        fs::write(dir.path().join("lib").join("m.py"), "y = 2\n").unwrap();
        let k2 = cache_key(&main).unwrap();
        assert_ne!(k1, k2);
        fs::write(&main, "x = 2\n").unwrap();
        assert_ne!(k2, cache_key(&main).unwrap());
        // Another entry file in the same directory has its own key.
        let other = dir.path().join("d.py");
        fs::write(&other, "z = 3\n").unwrap();
        assert_ne!(cache_key(&other).unwrap(), cache_key(&main).unwrap());
    }
}
