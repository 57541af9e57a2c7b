// Generics, tuple shapes, enum values and protocol shapes.
#[derive(tagwire::Codec)]
struct Generic<T> { x: T }

#[derive(tagwire::Codec)]
struct Tuple(u8, u8);

#[derive(tagwire::Codec)]
enum Values { A = 1, B = 1, C = -1, D = 4294967296 }

#[derive(tagwire::Codec)]
enum Union { A(u8), B { x: u8 } = 3 }

#[derive(tagwire::Codec)]
enum Empty {}

#[derive(tagwire::Protocol)]
struct NotAnEnum { x: u8 }

#[derive(tagwire::Codec)]
enum Level { Info }

#[derive(tagwire::Protocol)]
enum Msg<'a> {
    Pair(u8, u8),
    Level(Level),
    Borrowed { s: &'a str },
}

fn main() {}
