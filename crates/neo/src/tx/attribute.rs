//! Transaction attributes.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{BinReader, BinWriter};
use crate::uint::UInt256;

/// Largest oracle response result (C# `OracleResponse.MaxResultSize`).
pub const MAX_ORACLE_RESULT_SIZE: usize = u16::MAX as usize;

/// Oracle response codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum OracleResponseCode {
    Success = 0x00,
    ProtocolNotSupported = 0x10,
    ConsensusUnreachable = 0x12,
    NotFound = 0x14,
    Timeout = 0x16,
    Forbidden = 0x18,
    ResponseTooLarge = 0x1a,
    InsufficientFunds = 0x1c,
    ContentTypeNotSupported = 0x1f,
    Error = 0xff,
}

impl OracleResponseCode {
    /// From the code byte.
    pub fn from_u8(b: u8) -> Result<Self> {
        use OracleResponseCode::*;
        Ok(match b {
            0x00 => Success,
            0x10 => ProtocolNotSupported,
            0x12 => ConsensusUnreachable,
            0x14 => NotFound,
            0x16 => Timeout,
            0x18 => Forbidden,
            0x1a => ResponseTooLarge,
            0x1c => InsufficientFunds,
            0x1f => ContentTypeNotSupported,
            0xff => Error,
            other => {
                return Err(crate::Error::Format(format!(
                    "invalid oracle response code {other:#04x}"
                )));
            }
        })
    }
}

/// A transaction attribute. JSON form as Neo RPC nodes print it (`{"type":"Conflicts","hash":...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TransactionAttribute {
    /// Committee-only priority (type 0x01).
    HighPriority,
    /// Oracle response (type 0x11).
    OracleResponse {
        /// Request id.
        id: u64,
        /// Response code.
        code: OracleResponseCode,
        /// Result bytes (empty unless `code` is `Success`).
        #[serde(with = "crate::serde_util::base64_bytes")]
        result: Vec<u8>,
    },
    /// Not valid before this block height (type 0x20).
    NotValidBefore {
        /// Block height.
        height: u32,
    },
    /// Conflicts with the transaction of this hash (type 0x21; may appear several times).
    Conflicts {
        /// Hash of the conflicting transaction.
        hash: UInt256,
    },
    /// Notary-assisted transaction with this many keys (type 0x22).
    NotaryAssisted {
        /// Number of keys.
        #[serde(rename = "nkeys")]
        n_keys: u8,
    },
}

impl TransactionAttribute {
    /// The attribute's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Self::HighPriority => 0x01,
            Self::OracleResponse { .. } => 0x11,
            Self::NotValidBefore { .. } => 0x20,
            Self::Conflicts { .. } => 0x21,
            Self::NotaryAssisted { .. } => 0x22,
        }
    }

    /// The attribute's type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::HighPriority => "HighPriority",
            Self::OracleResponse { .. } => "OracleResponse",
            Self::NotValidBefore { .. } => "NotValidBefore",
            Self::Conflicts { .. } => "Conflicts",
            Self::NotaryAssisted { .. } => "NotaryAssisted",
        }
    }

    /// Whether a transaction may carry several attributes of this type (only `Conflicts`).
    pub fn allow_multiple(&self) -> bool {
        matches!(self, Self::Conflicts { .. })
    }

    /// Binary encoding: type byte then fields.
    pub fn encode(&self, w: &mut BinWriter) {
        w.write_u8(self.type_byte());
        match self {
            Self::HighPriority => {}
            Self::OracleResponse { id, code, result } => {
                w.write_u64(*id);
                w.write_u8(*code as u8);
                w.write_var_bytes(result);
            }
            Self::NotValidBefore { height } => w.write_u32(*height),
            Self::Conflicts { hash } => w.write_bytes(hash.as_bytes()),
            Self::NotaryAssisted { n_keys } => w.write_u8(*n_keys),
        }
    }

    /// Check field rules (oracle result size, empty result unless success).
    pub fn validate(&self) -> Result<()> {
        if let Self::OracleResponse { code, result, .. } = self {
            if result.len() > MAX_ORACLE_RESULT_SIZE {
                return Err(Error::Limit {
                    what: "oracle result",
                    got: result.len() as u64,
                    max: MAX_ORACLE_RESULT_SIZE as u64,
                });
            }
            if *code != OracleResponseCode::Success && !result.is_empty() {
                return Err(Error::Format(
                    "oracle response with a failure code must have an empty result".into(),
                ));
            }
        }
        Ok(())
    }

    /// Decode one attribute.
    pub fn decode(r: &mut BinReader<'_>) -> Result<Self> {
        let a = match r.read_u8()? {
            0x01 => Self::HighPriority,
            0x11 => {
                let id = r.read_u64()?;
                let code = OracleResponseCode::from_u8(r.read_u8()?)?;
                let result = r.read_var_bytes(MAX_ORACLE_RESULT_SIZE)?.to_vec();
                Self::OracleResponse { id, code, result }
            }
            0x20 => Self::NotValidBefore {
                height: r.read_u32()?,
            },
            0x21 => Self::Conflicts {
                hash: UInt256::from_bytes_le(r.read_array()?),
            },
            0x22 => Self::NotaryAssisted {
                n_keys: r.read_u8()?,
            },
            other => {
                return Err(Error::Format(format!(
                    "unknown transaction attribute type {other:#04x}"
                )));
            }
        };
        a.validate()?;
        Ok(a)
    }
}
