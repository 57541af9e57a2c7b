//! The stable code of every diagnostic, in one table.
//!
//! A code never changes meaning once released: editors, CI filters and
//! snapshots match on it. docs/DIAGNOSTICS.md shows an example of each, and a
//! test keeps that page and this table in step.

use serde::{Serialize, Serializer};
use std::fmt;

/// Declares the enum and its string code and meaning from one list, so the
/// three cannot disagree.
macro_rules! codes {
    ($($variant:ident = $code:literal, $meaning:literal;)*) => {
        /// What a diagnostic is about. `E` codes are errors, `W` codes warnings.
        ///
        /// New codes are added over time, so matches need a wildcard arm.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum DiagnosticCode {
            $(
                #[doc = concat!("`", $code, "`: ", $meaning, ".")]
                $variant,
            )*
        }

        impl DiagnosticCode {
            /// Every code, in the order of their string codes.
            pub const ALL: &'static [DiagnosticCode] = &[$(DiagnosticCode::$variant),*];

            /// The stable string code, such as `"E0091"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $code,)*
                }
            }

            /// What the code means, in one line.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $meaning,)*
                }
            }
        }
    };
}

codes! {
    SourceTooLarge = "E0001", "a schema file is larger than the size limit";
    NestingTooDeep = "E0002", "brackets are nested deeper than the limit";
    Syntax = "E0003", "the text does not follow the schema grammar";
    CannotReadFile = "E0010", "a schema file or an import cannot be read";
    ImportCycle = "E0011", "imports lead back to a file that imports them";
    NotUtf8 = "E0012", "a schema file is not valid UTF-8";
    ImportNotFound = "E0013", "an imported file does not exist";
    MissingPackage = "E0020", "a file has no `package` declaration";
    DuplicatePackage = "E0021", "a file declares more than one package";
    InvalidPackageName = "E0022", "a package name is not a valid name";
    PackageTooLate = "E0023", "`package` comes after imports or declarations";
    ImportAfterDeclaration = "E0024", "an import comes after a declaration";
    InvalidDeclarationName = "E0030", "a type or message name is not a valid name";
    DuplicateName = "E0031", "a name is declared twice in one package";
    GeneratedNameClash = "E0033", "a declared type has the generated name of a message version or of a borrowed view";
    DeclaredInTwoPackages = "E0034", "one name is declared in two packages of the protocol";
    GeneratedConstantClash = "E0035", "two message versions become the same constant in generated code";
    MessageUsedAsType = "E0040", "a message is used as a field type";
    UnknownType = "E0041", "a field uses a type that is not declared";
    NestedOptional = "E0042", "an optional type is made optional again";
    InvalidMapKey = "E0043", "a map key is neither `string` nor an integer type";
    DuplicateField = "E0050", "a field is declared twice in one struct or message";
    InvalidMemberName = "E0051", "a field or variant name is not a valid name";
    EmptyEnum = "E0060", "an enum has no variants";
    DuplicateVariant = "E0061", "a variant is declared twice, or two variants get the same generated name";
    EnumValueOutOfRange = "E0062", "an enum value does not fit in 0..=4294967295";
    DuplicateEnumValue = "E0063", "two variants of an enum have the same value";
    EmptyUnion = "E0064", "a union has no variants";
    InvalidVersion = "E0070", "a message version is not between v1 and v65535";
    DuplicateMessageVersion = "E0071", "a message version is declared twice";
    MalformedHeader = "E0072", "a pinned header is not two header characters";
    ReservedHeader = "E0073", "a pinned header starts with `_`, which the runtime's control messages use";
    HeaderPinnedTwice = "E0074", "two message versions pin the same header";
    InfiniteRecursion = "E0080", "a type contains itself with no list, map or optional between";
    HeaderMoved = "E0090", "a pinned header differs from the one the lock assigned";
    BreakingChange = "E0091", "the shape of a locked message version changed";
    RemovedVersionChanged = "E0093", "a removed message version comes back with a different shape";
    HeaderTaken = "E0094", "a pinned header already belongs to another message version";
    HeadersExhausted = "E0095", "a package has used every application header";
    LockOutOfDate = "E0096", "in locked mode, `tagwire.lock` is missing or would change";
    CannotReadLock = "E0098", "`tagwire.lock` exists but cannot be read";
    InvalidLock = "E0099", "`tagwire.lock` is not a valid lock file";
    UnknownConstraint = "E0100", "a constraint name is not `len`, `range` or `pattern`";
    ConstraintNotApplicable = "E0101", "a constraint does not apply to the field's type";
    InvalidConstraintArgument = "E0102", "a constraint's argument has the wrong form";
    ExclusiveUpperBound = "E0103", "a range uses `..` with an upper bound instead of `..=`";
    EmptyOrUnboundedRange = "E0104", "a range allows no value, or every value";
    BoundOutsideType = "E0105", "a range bound lies outside the field's type";
    InvalidPattern = "E0106", "a `@pattern` is not a valid regular expression";
    NonPortablePattern = "E0107", "a `@pattern` uses syntax outside the portable subset";
    DuplicateConstraint = "E0108", "a constraint is given twice on one type";
    InvalidRate = "E0110", "a `@rate` count or period is not a whole number from 1";
    DuplicateRate = "E0111", "a message has more than one `@rate`";
    RateOnServerMessage = "E0112", "`@rate` is on a message only the server sends";
    PresenceModifier = "E0113", "a presence state has a direction or a `@rate`";
    PresenceMixed = "E0114", "the versions of one name mix `message` and `presence`";
    DefaultTypeMismatch = "E0120", "a default is not a value of the field's type";
    DefaultOutOfRange = "E0121", "a default lies outside the field's numeric type";
    DefaultBreaksConstraint = "E0122", "a default breaks the field's constraints";
    DefaultNotAllowed = "E0123", "a default where defaults are not allowed";
    UnknownDefaultVariant = "E0124", "a default names a variant the enum or union does not have";
    DuplicateImport = "W0001", "a file imports the same file twice";
    VersionRemoved = "W0090", "a locked message version was removed; its header stays reserved";
    ConstraintsLoosened = "W0091", "the constraints of a locked message version were loosened";
}

impl DiagnosticCode {
    /// The code whose string is `code` (`"E0091"`), if there is one.
    pub fn from_code(code: &str) -> Option<DiagnosticCode> {
        DiagnosticCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
    }

    /// Whether diagnostics with this code are warnings rather than errors.
    pub fn is_warning(self) -> bool {
        self.as_str().starts_with('W')
    }
}

impl fmt::Display for DiagnosticCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as the string code, which is what JSON consumers match on.
impl Serialize for DiagnosticCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for DiagnosticCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DiagnosticCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::DiagnosticCode;

    #[test]
    fn codes_are_unique_sorted_and_well_formed() {
        let codes: Vec<&str> = DiagnosticCode::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "codes must be unique and listed in order");
        for code in codes {
            assert!(
                code.len() == 5
                    && (code.starts_with('E') || code.starts_with('W'))
                    && code[1..].chars().all(|c| c.is_ascii_digit()),
                "malformed code {code}"
            );
        }
    }

    #[test]
    fn from_code_round_trips() {
        for &code in DiagnosticCode::ALL {
            assert_eq!(DiagnosticCode::from_code(code.as_str()), Some(code));
        }
        assert_eq!(DiagnosticCode::from_code("E9999"), None);
    }
}
