//! Sets of names: closed ones (severities, formats, operations) and open ones that AWS extends
//! (access entry types, authentication modes, identity types, access scope types).
//!
//! Two macros generate the enum with its `Display`, `FromStr` or `parse`, and serde support, so
//! every set behaves the same way: parsing ignores case and surrounding blanks, a bad value of a
//! closed set is an error listing the valid values, and an open set keeps an unknown value as
//! written in its `Unknown` variant, for the rules to treat deliberately. Everything the
//! expansions need is in this module or in serde.

/// A value outside a closed set; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; valid values: {valid}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
    pub valid: String,
}

/// `Display` and `Serialize` as the value's text (`as_str`), for both kinds of set.
macro_rules! as_text {
    ($name:ident) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

/// A closed set: `ALL` in declaration order (which is also the order of `Ord`), `as_str`,
/// `Display`, `FromStr` (error lists the valid values), serde as the text.
macro_rules! closed_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

$crate::closed::as_text!($name);

        impl ::std::str::FromStr for $name {
            type Err = $crate::closed::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
                    .ok_or_else(|| $crate::closed::UnknownValue {
                        what: $what,
                        value: s.to_string(),
                        valid: Self::ALL
                            .iter()
                            .map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

/// An open set: the known values plus `Unknown(String)` for what AWS adds later. `parse` never
/// fails; `KNOWN` lists the known values; serde as the text.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this build does not know (AWS adds values over time), kept as written.
            Unknown(String),
        }

        impl $name {
            /// Every known value.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The known value spelled `text` (any case), or `Unknown(text)`.
            pub fn parse(text: &str) -> Self {
                let trimmed = text.trim();
                $(if trimmed.eq_ignore_ascii_case($text) {
                    return $name::$variant;
                })+
                $name::Unknown(trimmed.to_string())
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(text) => text,
                }
            }

            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

$crate::closed::as_text!($name);

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok($name::parse(&text))
            }
        }
    };
}

pub(crate) use as_text;
pub(crate) use closed_enum;
pub(crate) use open_enum;

#[cfg(test)]
mod tests {
    closed_enum! {
        enum Colour ("colour") { Red = "red", Green = "green" }
    }
    open_enum! {
        enum Shape { Circle = "CIRCLE", Square = "SQUARE" }
    }

    #[test]
    fn closed_sets_parse_in_any_case_and_list_valid_values_on_error() {
        assert_eq!(" RED ".parse::<Colour>().unwrap(), Colour::Red);
        let err = "blue".parse::<Colour>().unwrap_err().to_string();
        assert_eq!(err, "unknown colour `blue`; valid values: red, green");
        assert!(Colour::Red < Colour::Green);
        assert_eq!(serde_json::to_string(&Colour::Green).unwrap(), "\"green\"");
    }

    #[test]
    fn open_sets_keep_unknown_values_as_written() {
        assert_eq!(Shape::parse("circle"), Shape::Circle);
        assert_eq!(Shape::parse("HEXAGON"), Shape::Unknown("HEXAGON".into()));
        assert_eq!(Shape::parse("HEXAGON").as_str(), "HEXAGON");
        assert!(!Shape::parse("HEXAGON").is_known());
        assert_eq!(Shape::KNOWN, [Shape::Circle, Shape::Square]);
        let back: Shape = serde_json::from_str("\"SQUARE\"").unwrap();
        assert_eq!(back, Shape::Square);
    }
}
