// Unknown, duplicate and malformed attributes, all reported at once.
#[derive(tagwire::Protocol)]
#[tagwire(direction = "sideways", colour = "red")]
enum Msg {
    #[tagwire(header = "ab", header = "ac")]
    A,
    #[tagwire(version = "two")]
    B,
    #[tagwire(rename = "c")]
    C { #[tagwire(rename = 5)] x: u8, #[tagwire(header = "zz")] y: u8 },
}

#[derive(tagwire::Codec)]
#[tagwire(name = "P")]
struct P { #[tagwire(list = true)] x: Vec<u8> }

fn main() {}
