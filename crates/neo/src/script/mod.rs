//! NeoVM scripts: opcodes, interop ids, a script builder and call arguments.

mod builder;
pub mod interop;
mod opcode;

pub use builder::{Arg, CallFlags, MAX_INTEGER_SIZE, ScriptBuilder, int_from_bytes, int_to_bytes};
pub use opcode::OpCode;
