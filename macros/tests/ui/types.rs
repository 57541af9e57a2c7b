// Field types without a schema type, each reported at the field's type.
use std::collections::BTreeMap;
use std::rc::Rc;

struct NotCodec;

#[derive(tagwire::Codec)]
struct Fields {
    a: usize,
    b: u128,
    c: char,
    d: &'static str,
    e: (u8, u8),
    f: [u8; 4],
    g: Option<Option<u8>>,
    h: BTreeMap<bool, u8>,
    i: Rc<u8>,
    j: (),
    k: BTreeMap<f64, u8>,
}

#[derive(tagwire::Codec)]
struct Uses {
    x: NotCodec,
}

fn main() {}
