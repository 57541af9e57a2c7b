//! `with_*` setters for configuration structs, so a configuration reads as
//! one expression (`ServerConfig::default().with_drain(…)`) even where the
//! struct is `#[non_exhaustive]` and cannot be written as a literal.

/// `setters!(Type { with_x: x: T, … })` gives `Type::with_x(self, value: T)
/// -> Self`, which sets field `x` and is documented as doing so;
/// `setters!(into Type { … })` takes `impl Into<T>` instead.
macro_rules! setters {
    (into $ty:ident { $($setter:ident: $field:ident: $value:ty),+ $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($ty), "::", stringify!($field), "`].")]
                #[must_use]
                pub fn $setter(mut self, value: impl Into<$value>) -> Self {
                    self.$field = value.into();
                    self
                }
            )+
        }
    };
    ($ty:ident { $($setter:ident: $field:ident: $value:ty),+ $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($ty), "::", stringify!($field), "`].")]
                #[must_use]
                pub fn $setter(mut self, value: $value) -> Self {
                    self.$field = value;
                    self
                }
            )+
        }
    };
}

pub(crate) use setters;
