//! Compiling Python contracts with neo3-boa.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::error::{DevchainError, Result};
use crate::tools::{ToolCache, run, tail};

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
