//! Building invocation scripts: pushes of every argument type, `System.Contract.Call`, syscalls.

use num_bigint::BigInt;

use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::script::OpCode;
use crate::script::interop::{SYSTEM_CONTRACT_CALL, interop_id};
use crate::uint::{UInt160, UInt256};

/// Largest integer NeoVM handles: 32 bytes of two's complement.
pub const MAX_INTEGER_SIZE: usize = 32;

/// Call flags of `System.Contract.Call` (what the callee may do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CallFlags(u8);

impl CallFlags {
    /// No permissions.
    pub const NONE: Self = Self(0);
    /// Read contract states.
    pub const READ_STATES: Self = Self(0x01);
    /// Write contract states.
    pub const WRITE_STATES: Self = Self(0x02);
    /// Call other contracts.
    pub const ALLOW_CALL: Self = Self(0x04);
    /// Emit notifications.
    pub const ALLOW_NOTIFY: Self = Self(0x08);
    /// `READ_STATES | WRITE_STATES`.
    pub const STATES: Self = Self(0x03);
    /// `READ_STATES | ALLOW_CALL`.
    pub const READ_ONLY: Self = Self(0x05);
    /// Everything: `STATES | ALLOW_CALL | ALLOW_NOTIFY`.
    pub const ALL: Self = Self(0x0f);

    /// From raw bits; fails if bits outside `ALL` are set.
    pub fn from_bits(bits: u8) -> Result<Self> {
        if bits & !Self::ALL.0 != 0 {
            return Err(Error::Format(format!("invalid call flags {bits:#04x}")));
        }
        Ok(Self(bits))
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for CallFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// A contract call argument (the script-building counterpart of a `ContractParameter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `PUSHNULL` (also used for `Any`).
    Null,
    /// `PUSHT` / `PUSHF`.
    Bool(bool),
    /// An integer of up to 256 bits.
    Int(BigInt),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A UTF-8 string (pushed as its bytes).
    String(String),
    /// A script hash, pushed as its 20 little-endian bytes.
    Hash160(UInt160),
    /// A 256-bit hash, pushed as its 32 little-endian bytes.
    Hash256(UInt256),
    /// A public key, pushed as its 33 compressed bytes.
    PublicKey(PublicKey),
    /// An array: items reversed, count, `PACK` (`PUSH0 PACK` when empty, as C# Neo emits it).
    Array(Vec<Arg>),
    /// A map (`PACKMAP`, or `NEWMAP` when empty), entries in order.
    Map(Vec<(Arg, Arg)>),
}

macro_rules! arg_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Self {
                Arg::Int(BigInt::from(v))
            }
        }
    )*};
}
arg_from_int!(
    i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, isize, usize
);

impl From<BigInt> for Arg {
    fn from(v: BigInt) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::String(v.to_owned())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::String(v)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}
impl From<&[u8]> for Arg {
    fn from(v: &[u8]) -> Self {
        Arg::Bytes(v.to_vec())
    }
}
impl From<UInt160> for Arg {
    fn from(v: UInt160) -> Self {
        Arg::Hash160(v)
    }
}
impl From<UInt256> for Arg {
    fn from(v: UInt256) -> Self {
        Arg::Hash256(v)
    }
}
impl From<PublicKey> for Arg {
    fn from(v: PublicKey) -> Self {
        Arg::PublicKey(v)
    }
}
impl From<Vec<Arg>> for Arg {
    fn from(v: Vec<Arg>) -> Self {
        Arg::Array(v)
    }
}

/// Minimal two's complement little-endian encoding of `v` as NeoVM stores integers
/// (zero is the empty byte string).
pub fn int_to_bytes(v: &BigInt) -> Vec<u8> {
    if v.sign() == num_bigint::Sign::NoSign {
        return Vec::new();
    }
    v.to_signed_bytes_le()
}

/// Inverse of [`int_to_bytes`] (accepts non-minimal input too; empty is zero).
pub fn int_from_bytes(b: &[u8]) -> BigInt {
    if b.is_empty() {
        return BigInt::from(0);
    }
    BigInt::from_signed_bytes_le(b)
}

/// Emits NeoVM scripts. Every push uses the shortest form, exactly as C# `ScriptBuilder.EmitPush`
/// and neo-go `emit` do, so scripts (and thus transaction hashes) match other implementations.
#[derive(Debug, Clone, Default)]
pub struct ScriptBuilder {
    buf: Vec<u8>,
}

impl ScriptBuilder {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append one opcode.
    pub fn emit(&mut self, op: OpCode) -> &mut Self {
        self.buf.push(op as u8);
        self
    }

    /// Append an opcode with its operand bytes.
    pub fn emit_with(&mut self, op: OpCode, operand: &[u8]) -> &mut Self {
        self.buf.push(op as u8);
        self.buf.extend_from_slice(operand);
        self
    }

    /// Append raw bytes (e.g. another script).
    pub fn emit_raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Push an integer (`PUSHM1`/`PUSH0..16` or the smallest `PUSHINT*`).
    pub fn push_int(&mut self, v: i64) -> &mut Self {
        if (-1..=16).contains(&v) {
            self.buf.push((OpCode::PUSH0 as i64 + v) as u8);
            return self;
        }
        self.push_int_bytes_unchecked(&int_to_bytes(&BigInt::from(v)), v < 0);
        self
    }

    /// Push an integer of up to 256 bits; fails if it needs more than 32 bytes.
    pub fn push_bigint(&mut self, v: &BigInt) -> Result<&mut Self> {
        if let Ok(small) = i64::try_from(v) {
            return Ok(self.push_int(small));
        }
        let bytes = int_to_bytes(v);
        if bytes.len() > MAX_INTEGER_SIZE {
            return Err(Error::IntegerRange(format!(
                "{} bytes > {MAX_INTEGER_SIZE}",
                bytes.len()
            )));
        }
        self.push_int_bytes_unchecked(&bytes, v.sign() == num_bigint::Sign::Minus);
        Ok(self)
    }

    fn push_int_bytes_unchecked(&mut self, bytes: &[u8], negative: bool) {
        let (op, width) = match bytes.len() {
            0..=1 => (OpCode::PUSHINT8, 1),
            2 => (OpCode::PUSHINT16, 2),
            3..=4 => (OpCode::PUSHINT32, 4),
            5..=8 => (OpCode::PUSHINT64, 8),
            9..=16 => (OpCode::PUSHINT128, 16),
            _ => (OpCode::PUSHINT256, 32),
        };
        self.buf.push(op as u8);
        self.buf.extend_from_slice(bytes);
        let pad = if negative { 0xff } else { 0x00 };
        self.buf
            .extend(std::iter::repeat_n(pad, width - bytes.len()));
    }

    /// Push a byte string (`PUSHDATA1/2/4` by length).
    pub fn push_bytes(&mut self, data: &[u8]) -> &mut Self {
        let len = data.len();
        if len < 0x100 {
            self.buf.push(OpCode::PUSHDATA1 as u8);
            self.buf.push(len as u8);
        } else if len < 0x10000 {
            self.buf.push(OpCode::PUSHDATA2 as u8);
            self.buf.extend_from_slice(&(len as u16).to_le_bytes());
        } else {
            self.buf.push(OpCode::PUSHDATA4 as u8);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(data);
        self
    }

    /// Push a UTF-8 string as bytes.
    pub fn push_string(&mut self, s: &str) -> &mut Self {
        self.push_bytes(s.as_bytes())
    }

    /// Push a boolean (`PUSHT` / `PUSHF`).
    pub fn push_bool(&mut self, b: bool) -> &mut Self {
        self.emit(if b { OpCode::PUSHT } else { OpCode::PUSHF })
    }

    /// Push null (`PUSHNULL`).
    pub fn push_null(&mut self) -> &mut Self {
        self.emit(OpCode::PUSHNULL)
    }

    /// Push a script hash (20 little-endian bytes).
    pub fn push_hash160(&mut self, h: &UInt160) -> &mut Self {
        self.push_bytes(h.as_bytes())
    }

    /// Push a 256-bit hash (32 little-endian bytes).
    pub fn push_hash256(&mut self, h: &UInt256) -> &mut Self {
        self.push_bytes(h.as_bytes())
    }

    /// Push any argument; fails only for integers beyond 256 bits.
    pub fn push_arg(&mut self, arg: &Arg) -> Result<&mut Self> {
        match arg {
            Arg::Null => self.push_null(),
            Arg::Bool(b) => self.push_bool(*b),
            Arg::Int(i) => self.push_bigint(i)?,
            Arg::Bytes(b) => self.push_bytes(b),
            Arg::String(s) => self.push_string(s),
            Arg::Hash160(h) => self.push_hash160(h),
            Arg::Hash256(h) => self.push_hash256(h),
            Arg::PublicKey(k) => self.push_bytes(&k.to_compressed()),
            // As C# `EmitPush(ContractParameter)`: an empty array argument is `PUSH0 PACK`
            // (only the outer argument list of a call uses `NEWARRAY0`).
            Arg::Array(items) if items.is_empty() => self.push_int(0).emit(OpCode::PACK),
            Arg::Array(items) => self.push_array(items)?,
            Arg::Map(entries) => self.push_map(entries)?,
        };
        Ok(self)
    }

    /// Push an array: items in reverse order, the count, `PACK` (`NEWARRAY0` when empty).
    pub fn push_array(&mut self, items: &[Arg]) -> Result<&mut Self> {
        if items.is_empty() {
            return Ok(self.emit(OpCode::NEWARRAY0));
        }
        for item in items.iter().rev() {
            self.push_arg(item)?;
        }
        self.push_int(items.len() as i64);
        Ok(self.emit(OpCode::PACK))
    }

    /// Push a map: for each entry in reverse order value then key, the count, `PACKMAP`
    /// (`NEWMAP` when empty).
    pub fn push_map(&mut self, entries: &[(Arg, Arg)]) -> Result<&mut Self> {
        if entries.is_empty() {
            return Ok(self.emit(OpCode::NEWMAP));
        }
        for (k, v) in entries.iter().rev() {
            self.push_arg(v)?;
            self.push_arg(k)?;
        }
        self.push_int(entries.len() as i64);
        Ok(self.emit(OpCode::PACKMAP))
    }

    /// `SYSCALL` of an interop service by name.
    pub fn syscall(&mut self, name: &str) -> &mut Self {
        self.syscall_id(interop_id(name))
    }

    /// `SYSCALL` of an interop service by id.
    pub fn syscall_id(&mut self, id: u32) -> &mut Self {
        self.emit_with(OpCode::SYSCALL, &id.to_le_bytes())
    }

    /// Call `method` of contract `hash` with `flags` and `args`:
    /// args array, flags, method, hash, `SYSCALL System.Contract.Call`.
    pub fn contract_call(
        &mut self,
        hash: &UInt160,
        method: &str,
        flags: CallFlags,
        args: &[Arg],
    ) -> Result<&mut Self> {
        self.push_array(args)?;
        self.push_int(i64::from(flags.bits()));
        self.push_string(method);
        self.push_hash160(hash);
        Ok(self.syscall(SYSTEM_CONTRACT_CALL))
    }

    /// `try { body } catch { catch }`: `TRY` with a catch block and no finally, the body and the
    /// catch block each left by `ENDTRY` to the first instruction after the catch block. The
    /// catch block starts with the exception on the stack. A body throwing an exception, in this
    /// script or in a contract it calls, continues in the catch block (a called contract's
    /// storage changes are then discarded); `ABORT` and running out of GAS cannot be caught.
    /// Short forms (`TRY`/`ENDTRY`, one-byte offsets, the layout neo-go's VM tests use) when the
    /// offsets fit, otherwise `TRY_L`/`ENDTRY_L` (four-byte offsets). neo-go FAULTs an `ENDTRY`
    /// that jumps to the end of the script ("instruction offset is out of range"): emit an
    /// instruction after the last `try_catch` of a script (e.g. `RET`).
    pub fn try_catch(
        &mut self,
        body: impl FnOnce(&mut ScriptBuilder) -> Result<()>,
        catch: impl FnOnce(&mut ScriptBuilder) -> Result<()>,
    ) -> Result<&mut Self> {
        let mut b = ScriptBuilder::new();
        body(&mut b)?;
        let mut c = ScriptBuilder::new();
        catch(&mut c)?;
        let (body, catch) = (b.into_bytes(), c.into_bytes());
        // Short form: TRY (3 bytes) body ENDTRY (2) catch ENDTRY (2).
        let catch_at = 3 + body.len() + 2;
        let end_from_body = 2 + catch.len() + 2;
        if catch_at <= i8::MAX as usize && end_from_body <= i8::MAX as usize {
            self.emit_with(OpCode::TRY, &[catch_at as u8, 0]);
            self.emit_raw(&body);
            self.emit_with(OpCode::ENDTRY, &[end_from_body as u8]);
            self.emit_raw(&catch);
            self.emit_with(OpCode::ENDTRY, &[2]);
            return Ok(self);
        }
        // Long form: TRY_L (9 bytes) body ENDTRY_L (5) catch ENDTRY_L (5).
        let offset = |v: usize| {
            i32::try_from(v).map_err(|_| Error::Format(format!("try block of {v} bytes")))
        };
        let catch_at = offset(9 + body.len() + 5)?;
        let end_from_body = offset(5 + catch.len() + 5)?;
        let mut operand = catch_at.to_le_bytes().to_vec();
        operand.extend(0i32.to_le_bytes());
        self.emit_with(OpCode::TRYL, &operand);
        self.emit_raw(&body);
        self.emit_with(OpCode::ENDTRYL, &end_from_body.to_le_bytes());
        self.emit_raw(&catch);
        self.emit_with(OpCode::ENDTRYL, &5i32.to_le_bytes());
        Ok(self)
    }

    /// The script so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Length of the script so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was emitted yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Finish and take the script.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int_hex(v: i128) -> String {
        let mut sb = ScriptBuilder::new();
        sb.push_bigint(&BigInt::from(v)).unwrap();
        hex::encode(sb.into_bytes())
    }

    #[test]
    fn try_catch_layout() {
        // neo-go's VM tests (getTRYProgram) with tryBlock [PUSH1], catchBlock [PUSH2], no finally:
        // TRY 06 00, PUSH1, ENDTRY 05, PUSH2, ENDTRY 02.
        let mut sb = ScriptBuilder::new();
        sb.try_catch(
            |b| {
                b.push_int(1);
                Ok(())
            },
            |b| {
                b.push_int(2);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(hex::encode(sb.as_bytes()), "3b0600113d05123d02");
        // Empty catch (the exception stays on the stack): TRY 06 00, PUSH1, ENDTRY 04, ENDTRY 02.
        let mut sb = ScriptBuilder::new();
        sb.try_catch(
            |b| {
                b.push_int(1);
                Ok(())
            },
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!(hex::encode(sb.as_bytes()), "3b0600113d043d02");
        // A body too large for one-byte offsets: TRY_L catch 9+200+5 = 214, finally 0;
        // ENDTRY_L 5+1+5 = 11 from the body's end; PUSH2; ENDTRY_L 5.
        let mut sb = ScriptBuilder::new();
        sb.push_int(7);
        sb.try_catch(
            |b| {
                b.emit_raw(&[OpCode::NOP as u8; 200]);
                Ok(())
            },
            |b| {
                b.push_int(2);
                Ok(())
            },
        )
        .unwrap();
        let s = sb.into_bytes();
        assert_eq!(hex::encode(&s[..10]), "173cd600000000000000");
        assert_eq!(hex::encode(&s[210..]), "3e0b000000123e05000000");
        assert_eq!(s.len(), 1 + 9 + 200 + 5 + 1 + 5);
        // Errors from the blocks are returned.
        let mut sb = ScriptBuilder::new();
        assert!(
            sb.try_catch(|_| Err(Error::Format("x".into())), |_| Ok(()))
                .is_err()
        );
    }

    #[test]
    fn integer_pushes() {
        assert_eq!(int_hex(-1), "0f");
        assert_eq!(int_hex(0), "10");
        assert_eq!(int_hex(16), "20");
        assert_eq!(int_hex(17), "0011");
        assert_eq!(int_hex(-2), "00fe");
        assert_eq!(int_hex(127), "007f");
        assert_eq!(int_hex(128), "018000");
        assert_eq!(int_hex(-129), "017fff");
        assert_eq!(int_hex(65536), "0200000100");
        assert_eq!(int_hex(-65536), "020000ffff");
        assert_eq!(int_hex(1 << 40), "030000000000010000");
        assert_eq!(
            int_hex(i64::MAX as i128 + 1),
            "040000000000000080".to_owned() + &"00".repeat(8)
        );
        let big = BigInt::from(1) << 200usize;
        let mut sb = ScriptBuilder::new();
        sb.push_bigint(&big).unwrap();
        assert_eq!(sb.as_bytes()[0], OpCode::PUSHINT256 as u8);
        assert_eq!(sb.len(), 33);
        assert!(
            ScriptBuilder::new()
                .push_bigint(&(BigInt::from(1) << 256usize))
                .is_err()
        );
        assert!(
            ScriptBuilder::new()
                .push_bigint(&-(BigInt::from(1) << 255usize))
                .is_ok()
        );
    }

    #[test]
    fn data_pushes() {
        let mut sb = ScriptBuilder::new();
        sb.push_bytes(&[0xaa; 255]);
        assert_eq!(&sb.as_bytes()[..2], &[0x0c, 0xff]);
        let mut sb = ScriptBuilder::new();
        sb.push_bytes(&[0xaa; 256]);
        assert_eq!(&sb.as_bytes()[..3], &[0x0d, 0x00, 0x01]);
        let mut sb = ScriptBuilder::new();
        sb.push_bytes(&vec![0; 0x10000]);
        assert_eq!(&sb.as_bytes()[..5], &[0x0e, 0x00, 0x00, 0x01, 0x00]);
    }

    #[test]
    fn call_flags() {
        assert_eq!(
            CallFlags::STATES | CallFlags::ALLOW_CALL | CallFlags::ALLOW_NOTIFY,
            CallFlags::ALL
        );
        assert!(CallFlags::ALL.contains(CallFlags::READ_ONLY));
        assert!(CallFlags::from_bits(0x10).is_err());
    }
}
