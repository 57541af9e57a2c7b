//! Generated code for schema/order.schema (canonical JSON on), built with
//! the `tagwire` runtime's `json` feature and no other.

pub mod order {
    tagwire::include_protocol!("order");
}
