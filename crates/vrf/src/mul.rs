//! Scalar multiplication shortcuts `p256` 0.13 does not have (its
//! `MulByGenerator` and `LinearCombination` are plain scalar multiplications):
//!
//! - [`mul_base`]: `k*B` from a precomputed table of the generator's
//!   multiples (64 windows of 4 bits, 16 points each, built once), 64
//!   mixed additions and no doublings. Constant time: every window reads all
//!   16 entries and keeps one with `conditional_assign`. Used by `prove`
//!   (`U = k*B`) on the secret nonce.
//! - [`mul_base_vartime`]: the same table, skipping zero windows; public
//!   scalars only (`s*B` in `verify`).
//! - [`mul_vartime`] / [`mul2_vartime`]: `a*P` and `a*P + b*Q` with 4-bit
//!   windows and shared doublings (Straus), variable time; public scalars
//!   only. The challenge `c` is 128 bits, so `c*Y` needs half the
//!   doublings.

use std::sync::OnceLock;

use p256::elliptic_curve::group::Curve as _;
use p256::elliptic_curve::group::Group as _;
use p256::elliptic_curve::subtle::{ConditionallySelectable, ConstantTimeEq};
use p256::{AffinePoint, ProjectivePoint, Scalar};

/// `TABLE[i][j] = j * 16^i * B` for window `i` in 0..64 and digit `j` in
/// 0..16 (`j = 0` is the identity).
type Table = [[AffinePoint; 16]; 64];

fn table() -> &'static Table {
    static TABLE: OnceLock<Box<Table>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut projective = vec![ProjectivePoint::IDENTITY; 64 * 16];
        let mut base = ProjectivePoint::GENERATOR;
        for window in 0..64 {
            let row = &mut projective[window * 16..(window + 1) * 16];
            for j in 1..16 {
                row[j] = row[j - 1] + base;
            }
            // 16^(i+1) * B = 16 * (16^i * B).
            base = row[15] + base;
        }
        let mut affine = vec![AffinePoint::IDENTITY; 64 * 16];
        ProjectivePoint::batch_normalize(&projective, &mut affine);
        let mut table = Box::new([[AffinePoint::IDENTITY; 16]; 64]);
        for (window, row) in table.iter_mut().enumerate() {
            row.copy_from_slice(&affine[window * 16..(window + 1) * 16]);
        }
        table
    })
}

/// 4-bit digits of a big-endian integer, least significant first.
fn digits(be: &[u8]) -> impl DoubleEndedIterator<Item = u8> + '_ {
    be.iter().rev().flat_map(|b| [b & 0x0f, b >> 4])
}

/// `k*B`, constant time in `k`.
pub(crate) fn mul_base(k: &Scalar) -> ProjectivePoint {
    let table = table();
    let bytes = zeroize::Zeroizing::new(k.to_bytes());
    let mut acc = ProjectivePoint::IDENTITY;
    for (row, digit) in table.iter().zip(digits(bytes.as_slice())) {
        let mut point = AffinePoint::IDENTITY;
        for (j, entry) in row.iter().enumerate().skip(1) {
            point.conditional_assign(entry, (j as u8).ct_eq(&digit));
        }
        // Complete formulas: adding the identity is correct.
        acc += point;
    }
    acc
}

/// `k*B` for a public `k`.
pub(crate) fn mul_base_vartime(k: &Scalar) -> ProjectivePoint {
    let table = table();
    let bytes = k.to_bytes();
    let mut acc = ProjectivePoint::IDENTITY;
    for (row, digit) in table.iter().zip(digits(&bytes)) {
        if digit != 0 {
            acc += row[usize::from(digit)];
        }
    }
    acc
}

/// `[0*P, 1*P, ..., 15*P]`.
fn window_table(p: &ProjectivePoint) -> [ProjectivePoint; 16] {
    let mut t = [ProjectivePoint::IDENTITY; 16];
    for j in 1..16 {
        t[j] = t[j - 1] + p;
    }
    t
}

/// `a*P + b*Q` for public big-endian integers `a`, `b` (any lengths up to
/// 32 bytes), 4-bit windows with shared doublings.
pub(crate) fn mul2_vartime(
    a: &[u8],
    p: &ProjectivePoint,
    b: &[u8],
    q: &ProjectivePoint,
) -> ProjectivePoint {
    let tp = window_table(p);
    let tq = window_table(q);
    let da: Vec<u8> = digits(a).collect();
    let db: Vec<u8> = digits(b).collect();
    let n = da.len().max(db.len());
    let mut acc = ProjectivePoint::IDENTITY;
    for i in (0..n).rev() {
        if i + 1 != n {
            for _ in 0..4 {
                acc = acc.double();
            }
        }
        if let Some(&d) = da.get(i).filter(|d| **d != 0) {
            acc += tp[usize::from(d)];
        }
        if let Some(&d) = db.get(i).filter(|d| **d != 0) {
            acc += tq[usize::from(d)];
        }
    }
    acc
}

/// `a*P` for a public big-endian integer `a`.
pub(crate) fn mul_vartime(a: &[u8], p: &ProjectivePoint) -> ProjectivePoint {
    mul2_vartime(a, p, &[], &ProjectivePoint::IDENTITY)
}

#[cfg(test)]
mod tests {
    use p256::elliptic_curve::Field;
    use rand::rngs::OsRng;

    use super::*;

    #[test]
    fn fixed_base_and_windowed_multiplication_match_p256() {
        let h = ProjectivePoint::GENERATOR * Scalar::random(&mut OsRng);
        let mut scalars = vec![Scalar::ZERO, Scalar::ONE, -Scalar::ONE];
        scalars.extend((0..20).map(|_| Scalar::random(&mut OsRng)));
        for k in &scalars {
            let expected = ProjectivePoint::GENERATOR * k;
            assert_eq!(mul_base(k), expected);
            assert_eq!(mul_base_vartime(k), expected);
            assert_eq!(mul_vartime(&k.to_bytes(), &h), h * k);
            for l in &scalars[..5] {
                assert_eq!(
                    mul2_vartime(
                        &k.to_bytes(),
                        &h,
                        &l.to_bytes(),
                        &ProjectivePoint::GENERATOR
                    ),
                    h * k + ProjectivePoint::GENERATOR * l
                );
            }
            // A 16-byte scalar (the challenge) against a 32-byte one.
            let short = &k.to_bytes()[16..];
            let mut padded = [0u8; 32];
            padded[16..].copy_from_slice(short);
            let short_scalar = crate::suite::scalar_from_canonical(&padded).unwrap();
            assert_eq!(
                mul2_vartime(&k.to_bytes(), &h, short, &ProjectivePoint::GENERATOR),
                h * k + ProjectivePoint::GENERATOR * short_scalar
            );
        }
    }
}
