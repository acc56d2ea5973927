//! Human or JSON output for commands.

use serde::Serialize;

/// Where command results go: stdout, as JSON (`--json`) or as aligned `key: value` lines.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// New output sink.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Print a result: pretty JSON with `--json`, otherwise one `key: value` line per top-level field
    /// (nested values as compact JSON).
    pub fn print<T: Serialize>(&self, value: &T) {
        let v = serde_json::to_value(value).expect("command results serialize");
        if self.json {
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
            return;
        }
        match v {
            serde_json::Value::Object(map) => {
                let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
                for (k, v) in map {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    println!("{k:width$}  {text}");
                }
            }
            serde_json::Value::String(s) => println!("{s}"),
            other => println!("{other}"),
        }
    }
}
