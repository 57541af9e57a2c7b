// Duplicate, reserved and malformed headers; duplicate (name, version); bad versions.
#[derive(tagwire::Protocol)]
enum Msg {
    #[tagwire(header = "ab")]
    A,
    #[tagwire(header = "ab")]
    B,
    #[tagwire(header = "_a")]
    C,
    #[tagwire(header = "a")]
    D,
    #[tagwire(header = "a|")]
    E,
    #[tagwire(name = "A")]
    F,
    #[tagwire(version = 0)]
    G,
    #[tagwire(name = "lower")]
    H,
}

fn main() {}
