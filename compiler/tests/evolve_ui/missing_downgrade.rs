// `Count v2` changes `n` from `u32` to `u64`: the compiler cannot generate the
// downgrade, and the generated `Package::downgrade` still calls it, so the
// build fails until the application writes the impl the message names.

#[allow(dead_code)]
mod counter {
    include!("../fixtures/evolve/counter.rs");
}

fn main() {}
