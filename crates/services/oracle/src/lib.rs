//! Oracle service: answers gateway and native OracleContract requests with filtered off-chain data.
