//! Neo binary encoding: little-endian integers, var-ints, var-bytes, with limits enforced on decode.

use crate::error::{Error, Result};

/// Appends Neo binary encodings to a buffer.
#[derive(Debug, Clone, Default)]
pub struct BinWriter {
    buf: Vec<u8>,
}

impl BinWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append raw bytes.
    pub fn write_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Append one byte.
    pub fn write_u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Append a boolean as one byte (0 or 1).
    pub fn write_bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// Append a u16, little-endian.
    pub fn write_u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Append a u32, little-endian.
    pub fn write_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Append a u64, little-endian.
    pub fn write_u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Append an i64, little-endian.
    pub fn write_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Append a var-int: `< 0xfd` as one byte, else `fd u16`, `fe u32`, `ff u64`.
    pub fn write_var_int(&mut self, v: u64) {
        if v < 0xfd {
            self.buf.push(v as u8);
        } else if v <= 0xffff {
            self.buf.push(0xfd);
            self.write_u16(v as u16);
        } else if v <= 0xffff_ffff {
            self.buf.push(0xfe);
            self.write_u32(v as u32);
        } else {
            self.buf.push(0xff);
            self.write_u64(v);
        }
    }

    /// Append var-int length then the bytes.
    pub fn write_var_bytes(&mut self, b: &[u8]) {
        self.write_var_int(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// Append a string as var-bytes of its UTF-8.
    pub fn write_var_string(&mut self, s: &str) {
        self.write_var_bytes(s.as_bytes());
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Take the buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// The encoded size of a var-int.
pub fn var_int_size(v: u64) -> usize {
    match v {
        0..0xfd => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Reads Neo binary encodings from a slice. Every read checks bounds and returns an error instead
/// of panicking; length-prefixed reads take a maximum and reject larger declared lengths before
/// allocating.
#[derive(Debug, Clone)]
pub struct BinReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BinReader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Current offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Fail unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(Error::TrailingBytes(n)),
        }
    }

    /// Read exactly `n` bytes.
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let rem = self.remaining();
        if n > rem {
            return Err(Error::UnexpectedEof {
                offset: self.pos,
                needed: n - rem,
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Read a fixed-size array.
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.read_bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Read one byte.
    pub fn read_u8(&mut self) -> Result<u8> {
        Ok(self.read_array::<1>()?[0])
    }

    /// Peek at the next byte without consuming it.
    pub fn peek_u8(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Read a boolean byte; only 0 and 1 are accepted.
    pub fn read_bool(&mut self) -> Result<bool> {
        match self.read_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::Format(format!("invalid boolean byte {b:#04x}"))),
        }
    }

    /// Read a little-endian u16.
    pub fn read_u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.read_array()?))
    }

    /// Read a little-endian u32.
    pub fn read_u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.read_array()?))
    }

    /// Read a little-endian u64.
    pub fn read_u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.read_array()?))
    }

    /// Read a little-endian i64.
    pub fn read_i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.read_array()?))
    }

    /// Read a var-int no larger than `max`. Non-canonical encodings (a long form for a value that
    /// fits a shorter one) are rejected, as C# Neo does.
    pub fn read_var_int(&mut self, max: u64) -> Result<u64> {
        let start = self.pos;
        let v = match self.read_u8()? {
            0xfd => {
                let v = u64::from(self.read_u16()?);
                if v < 0xfd {
                    return Err(self.non_canonical(start));
                }
                v
            }
            0xfe => {
                let v = u64::from(self.read_u32()?);
                if v <= 0xffff {
                    return Err(self.non_canonical(start));
                }
                v
            }
            0xff => {
                let v = self.read_u64()?;
                if v <= 0xffff_ffff {
                    return Err(self.non_canonical(start));
                }
                v
            }
            b => u64::from(b),
        };
        if v > max {
            return Err(Error::Limit {
                what: "var-int",
                got: v,
                max,
            });
        }
        Ok(v)
    }

    fn non_canonical(&self, at: usize) -> Error {
        Error::Format(format!("non-canonical var-int at offset {at}"))
    }

    /// Read a var-int length no larger than `max`, as usize.
    pub fn read_len(&mut self, max: usize, what: &'static str) -> Result<usize> {
        let v = self.read_var_int(u64::MAX)?;
        if v > max as u64 {
            return Err(Error::Limit {
                what,
                got: v,
                max: max as u64,
            });
        }
        Ok(v as usize)
    }

    /// Read var-bytes whose length is at most `max`.
    pub fn read_var_bytes(&mut self, max: usize) -> Result<&'a [u8]> {
        let n = self.read_len(max, "var-bytes length")?;
        self.read_bytes(n)
    }

    /// Read a var-string (UTF-8) whose byte length is at most `max`.
    pub fn read_var_string(&mut self, max: usize) -> Result<String> {
        let b = self.read_var_bytes(max)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::Format("string is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_int_forms() {
        for (v, hex_) in [
            (0u64, "00"),
            (0xfc, "fc"),
            (0xfd, "fdfd00"),
            (0xffff, "fdffff"),
            (0x10000, "fe00000100"),
            (0x1_0000_0000, "ff0000000001000000"),
        ] {
            let mut w = BinWriter::new();
            w.write_var_int(v);
            assert_eq!(hex::encode(w.into_bytes()), hex_);
            let bytes = hex::decode(hex_).unwrap();
            let mut r = BinReader::new(&bytes);
            assert_eq!(r.read_var_int(u64::MAX).unwrap(), v);
            r.finish().unwrap();
            assert_eq!(var_int_size(v), bytes.len());
        }
    }

    #[test]
    fn limits_and_errors() {
        let mut r = BinReader::new(&[0xfd, 0x05, 0x00]);
        assert!(matches!(r.read_var_int(u64::MAX), Err(Error::Format(_))));
        let mut r = BinReader::new(&[0x05, 1, 2]);
        assert!(matches!(r.read_var_bytes(4), Err(Error::Limit { .. })));
        let mut r = BinReader::new(&[0x05, 1, 2]);
        assert!(matches!(
            r.read_var_bytes(10),
            Err(Error::UnexpectedEof {
                offset: 1,
                needed: 3
            })
        ));
        let mut r = BinReader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            r.read_var_bytes(usize::MAX),
            Err(Error::UnexpectedEof { .. })
        ));
        assert!(BinReader::new(&[2]).read_bool().is_err());
    }
}
