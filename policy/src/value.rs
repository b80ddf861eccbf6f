//! Exact decimal resource values. Values are integer micro-units so that splitting and
//! joining vessels (nodemanager.md §6) never loses precision the way floats would.

use std::fmt;

/// Micro-units per unit (6 fractional digits).
const SCALE: u64 = 1_000_000;

/// A non-negative decimal with at most 6 fractional digits, stored as micro-units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micro(u64);

/// Why a value text is not a valid [`Micro`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueError {
    /// Empty, or has characters other than digits and one point (signs, exponents...).
    NotANumber,
    /// More than 6 digits after the point.
    TooManyDecimals,
    /// Does not fit in micro-units.
    TooLarge,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueError::NotANumber => "not a decimal number without sign or exponent",
            ValueError::TooManyDecimals => "more than 6 digits after the point",
            ValueError::TooLarge => "too large",
        })
    }
}

impl Micro {
    pub const ZERO: Micro = Micro(0);

    pub const fn from_micros(micros: u64) -> Micro {
        Micro(micros)
    }

    /// A whole number of units; None if it does not fit.
    pub fn from_units(units: u64) -> Option<Micro> {
        units.checked_mul(SCALE).map(Micro)
    }

    pub const fn micros(self) -> u64 {
        self.0
    }

    /// Parses `10`, `0.5`, `.10`, `2.`: digits with at most one point and at least one digit.
    pub fn parse(text: &str) -> Result<Micro, ValueError> {
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(ValueError::NotANumber);
        }
        if frac.len() > 6 {
            return Err(ValueError::TooManyDecimals);
        }
        let mut micros: u64 = 0;
        for b in int.bytes() {
            micros = micros.checked_mul(10).and_then(|m| m.checked_add(u64::from(b - b'0'))).ok_or(ValueError::TooLarge)?;
        }
        micros = micros.checked_mul(SCALE).ok_or(ValueError::TooLarge)?;
        let mut frac_micros = 0u64;
        for (i, b) in frac.bytes().enumerate() {
            frac_micros += u64::from(b - b'0') * 10u64.pow(5 - i as u32);
        }
        micros.checked_add(frac_micros).map(Micro).ok_or(ValueError::TooLarge)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether the fraction is zero (required for integral resources).
    pub fn is_whole(self) -> bool {
        self.0.is_multiple_of(SCALE)
    }

    /// The whole part, in units.
    pub fn whole_units(self) -> u64 {
        self.0 / SCALE
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }

    pub fn checked_add(self, other: Micro) -> Option<Micro> {
        self.0.checked_add(other.0).map(Micro)
    }

    /// None when the result would be negative.
    pub fn checked_sub(self, other: Micro) -> Option<Micro> {
        self.0.checked_sub(other.0).map(Micro)
    }
}

/// Shortest decimal form: `10`, `0.5`, `0.25`.
impl fmt::Display for Micro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / SCALE, self.0 % SCALE);
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:06}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<u64, ValueError> {
        Micro::parse(s).map(Micro::micros)
    }

    #[test]
    fn accepts_the_spec_forms() {
        assert_eq!(p("10"), Ok(10_000_000));
        assert_eq!(p("0.5"), Ok(500_000));
        assert_eq!(p(".10"), Ok(100_000));
        assert_eq!(p("2."), Ok(2_000_000));
        assert_eq!(p("0.000001"), Ok(1));
        assert_eq!(p("007"), Ok(7_000_000));
        assert_eq!(p("0"), Ok(0));
    }

    #[test]
    fn rejects_sign_exponent_and_excess_decimals() {
        for bad in ["", ".", "-1", "+1", "1e3", "1E3", "abc", "1.2.3", " 1", "0x10", "1_000", "inf", "NaN"] {
            assert_eq!(p(bad), Err(ValueError::NotANumber), "{bad:?}");
        }
        assert_eq!(p("0.0000001"), Err(ValueError::TooManyDecimals));
        assert_eq!(p("99999999999999999999"), Err(ValueError::TooLarge));
        assert_eq!(p("18446744073709.551616"), Err(ValueError::TooLarge));
    }

    #[test]
    fn whole_and_float_views() {
        assert!(Micro::parse("10.0").unwrap().is_whole());
        assert!(!Micro::parse("10.5").unwrap().is_whole());
        assert_eq!(Micro::parse("2.5").unwrap().as_f64(), 2.5);
        assert_eq!(Micro::parse("12.9").unwrap().whole_units(), 12);
        assert_eq!(Micro::from_units(3), Some(Micro::from_micros(3_000_000)));
    }

    #[test]
    fn displays_shortest_form() {
        let show = |s: &str| Micro::parse(s).unwrap().to_string();
        assert_eq!(show("10"), "10");
        assert_eq!(show("10.000"), "10");
        assert_eq!(show("0.5"), "0.5");
        assert_eq!(show(".25"), "0.25");
        assert_eq!(show(".002"), "0.002");
        assert_eq!(show("1.000001"), "1.000001");
        assert_eq!(show("0"), "0");
    }

    #[test]
    fn arithmetic_is_exact() {
        let a = Micro::parse("0.1").unwrap();
        let b = Micro::parse("0.2").unwrap();
        assert_eq!(a.checked_add(b), Some(Micro::parse("0.3").unwrap()));
        assert_eq!(a.checked_sub(b), None);
        assert_eq!(b.checked_sub(a), Some(a));
    }
}
