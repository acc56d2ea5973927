//! JavaScript sandbox (QuickJS) with per-execution memory, time and stack limits.
